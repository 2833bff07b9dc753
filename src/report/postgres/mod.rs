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
//! seconds), `user_agents` (each distinct user agent once; a violation holds its key,
//! `user_agent_id`, and the view `violations_with_user_agent` puts the text back),
//! `groups` (the summary's aggregate), `counters` (`filtered`), and `connect_src_schema`
//! (its version). `violations` and `observations` are partitioned by day of `received_at`
//! (UTC; `violations_20270115`, …), each with a default partition (`violations_default`)
//! for any row no day holds, so nothing is refused for its date: the partitions of today
//! and the next two days are made when the store opens, and a commit that brings a day
//! without one makes it first. [`PostgresSink::prune_before`] drops whole days. Opening
//! migrates an older schema under `pg_advisory_xact_lock`, so several processes starting
//! at once migrate it once (from schema 2, every row is moved into the partitioned
//! tables in that one transaction: minutes for millions of rows, during which other
//! collectors wait); a schema newer than this version knows is refused untouched
//! ([`StoreError::NewerSchema`]). Collectors of the previous version still running on the
//! database answer 503 once it is migrated (their statements name the old columns):
//! upgrade them together. `total` in the summary is the sum of the group counts, read
//! without scanning `violations` (rows deleted by hand stay counted until
//! [`PostgresSink::prune_before`] recounts).
//!
//! **TLS.** `sslmode` and `sslrootcert` in the connection string, as libpq reads them
//! ([`PostgresSinkBuilder::open`]), with rustls; the password can be given apart from the
//! URL ([`PostgresSinkBuilder::password`]).
//!
//! **Health.** [`ReportSink::health`] says [`Health::Failing`] from a failed commit (the
//! server gone, a refused statement) until one succeeds; while no reports come the
//! dispatcher tries an empty transaction every few seconds, so a server that is back shows
//! as healthy without traffic.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::sql::{self, secs};
use super::store::{
    Activity, BoxFuture, CommitHealth, DestinationUse, GroupKey, Health, HourWindow, Observation,
    ReportSink, ReportStore, Reported, Rollout, StoreError, Summary, Violation,
};
use crate::source::Origin;

mod db;
mod partition;
mod read;
mod schema;
mod tls;
mod write;

use db::{read_error, Db};
use partition::{any_ends_before, remove_before, Partitions};
use schema::{migrate, GROUPS_FROM_ROWS, GROUP_NETWORKS_FROM_ROWS};
use write::{dispatch, Job};

/// Options for [`PostgresSink`]; from [`PostgresSink::builder`].
#[derive(Clone)]
#[must_use]
pub struct PostgresSinkBuilder {
    queue: usize,
    writers: usize,
    timeout: Duration,
    password: Option<String>,
    ca_file: Option<PathBuf>,
}

/// The password is never shown.
impl fmt::Debug for PostgresSinkBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSinkBuilder")
            .field("queue", &self.queue)
            .field("writers", &self.writers)
            .field("timeout", &self.timeout)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ca_file", &self.ca_file)
            .finish()
    }
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

    /// The password, given apart from the connection string (read from a secret file, a
    /// vault), so that it is in neither the URL nor the process list. A connection string
    /// with a password of its own is then refused by [`open`](Self::open)
    /// ([`StoreError::Configuration`]): which one counts would be a guess. Never shown by
    /// `Debug`.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// A PEM file of the CA certificates to trust for the server's certificate (a managed
    /// service's CA bundle), instead of the system's. The same as `sslrootcert=PATH` in the
    /// connection string, which it replaces when both are given. Used with
    /// `sslmode=verify-ca` or `verify-full`, and with `require` (which then checks the
    /// chain, as libpq does).
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> Self {
        self.ca_file = Some(path.as_ref().to_path_buf());
        self
    }

    /// Reads `url` as [`open`](Self::open) would, without connecting: the errors that come
    /// from the text and the files it names (the CA file) rather than from the server.
    ///
    /// # Errors
    ///
    /// The [`StoreError::Configuration`] errors of [`open`](Self::open).
    pub fn check(&self, url: &str) -> Result<(), StoreError> {
        tls::read(url, self.password.as_deref(), self.ca_file.as_deref()).map(drop)
    }

    /// Connects, migrates an older schema, makes the partitions of today and the next two
    /// days, and starts the writers.
    ///
    /// `url` is a libpq-style connection string: `postgres://user[:password]@host[:port]/
    /// database[?param=value&…]` (or `postgresql://…`, or `host=… user=… dbname=…`), with
    /// tokio-postgres's parameters and libpq's TLS ones:
    ///
    /// - `sslmode`: `disable` (plain), `prefer` (the default: TLS when the server offers
    ///   it), `require` (TLS or no connection), `verify-ca` (and the certificate signed by a
    ///   trusted CA), `verify-full` (and naming the host). `prefer` and `require` do not
    ///   check the certificate (they keep a passive listener out, not someone in the
    ///   middle), unless `require` has a CA file, which makes it `verify-ca` as in libpq.
    /// - `sslrootcert`: a PEM file of the CAs to trust ([`ca_file`](Self::ca_file)), or
    ///   `system`; without it `verify-full` trusts the system's CA certificates
    ///   (`/etc/ssl/certs`, or `SSL_CERT_FILE`/`SSL_CERT_DIR`), where libpq would read
    ///   `~/.postgresql/root.crt`. `verify-ca` needs a CA file (it checks no name, so a
    ///   public CA's certificate for any name would pass), as `system` needs `verify-full`.
    ///
    /// TLS is rustls with the ring provider (TLS 1.2 and 1.3); client certificates are not
    /// offered.
    ///
    /// Blocks the calling thread until the sink's runtime has connected and migrated: call
    /// it before your runtime starts, or from `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Configuration`] for a `url` that is not a connection string, an
    /// `sslmode` that is not one of the five, a password given both in the URL and with
    /// [`password`](Self::password), a CA file that cannot be read or holds no certificate;
    /// [`StoreError::Database`] when the server cannot be reached or refuses (its error is
    /// the source; a TLS handshake that failed, such as a certificate no trusted CA signed,
    /// says the `sslmode` and the roots it trusted, over the driver's error);
    /// [`StoreError::Timeout`] when it does not answer within the
    /// [`timeout`](Self::timeout); [`StoreError::NewerSchema`] for a database of a later
    /// version (left untouched); [`StoreError::Closed`] when the sink's thread cannot start.
    pub fn open(self, url: &str) -> Result<PostgresSink, StoreError> {
        let tls::Connect {
            mut config,
            tls,
            tls_said,
        } = tls::read(url, self.password.as_deref(), self.ca_file.as_deref())?;
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
            tls,
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
            health: CommitHealth::default(),
            partitions: Partitions::default(),
            tls_said,
        });
        let opening = db.clone();
        rt.run(async move {
            migrate(&opening).await?;
            opening.partitions.ensure(opening.connection(), []).await;
            Ok(())
        })
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
            password: None,
            ca_file: None,
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

    /// Removes the violations and observations received before `t` and recounts the
    /// groups (and each group's networks) from the rest, in one transaction; returns how
    /// many violations went. Day partitions that end at or before `t` are dropped whole
    /// (their rows counted, not deleted one by one); the rows before `t` in the day it falls
    /// in and in the default partitions are deleted; user agents no remaining row refers to
    /// go too. It holds writers (of every process) back while it runs: their commits wait,
    /// then go on; while a partition is dropped, reads of the rows (the dashboard's charts)
    /// wait too. The recount reads every remaining row: its time grows with them
    /// (bench/README.md has the measured figures).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] (nothing is removed then), [`StoreError::Timeout`] when no
    /// connection comes in time.
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

async fn prune(shared: &Db, before: i64) -> Result<u64, StoreError> {
    let mut conn = shared.connection().await?;
    let result = async {
        let tx = conn.transaction().await?;
        // Writers take ROW EXCLUSIVE on violations, user_agents, groups, group_networks,
        // then observations; these locks conflict with it, taken in the same order, so the
        // prune waits for commits in flight and holds new ones back until the recount is
        // done. Dropping a partition needs its parent to itself (ACCESS EXCLUSIVE: reads of
        // the rows wait too); deleting rows only needs the writers held back.
        let mut deleted = 0;
        for table in partition::TABLES {
            let mode = if any_ends_before(&*tx, table, before).await? {
                "ACCESS EXCLUSIVE"
            } else {
                "SHARE ROW EXCLUSIVE"
            };
            tx.batch_execute(&format!("LOCK TABLE {table} IN {mode} MODE"))
                .await?;
            if table != "violations" {
                remove_before(&*tx, table, before).await?;
                continue;
            }
            tx.batch_execute(
                "LOCK TABLE user_agents, groups, group_networks IN SHARE ROW EXCLUSIVE MODE",
            )
            .await?;
            deleted = remove_before(&*tx, table, before).await?;
            if deleted > 0 {
                tx.batch_execute("DELETE FROM groups; DELETE FROM group_networks")
                    .await?;
                // The networks first: the groups' reach is counted from them.
                tx.batch_execute(GROUP_NETWORKS_FROM_ROWS).await?;
                tx.batch_execute(GROUPS_FROM_ROWS).await?;
                tx.batch_execute(FORGET_USER_AGENTS).await?;
            }
        }
        tx.commit().await?;
        Ok(deleted)
    }
    .await;
    result.map_err(|e: tokio_postgres::Error| read_error(conn, e))
}

/// User agents no stored violation refers to any more (after a prune).
const FORGET_USER_AGENTS: &str = "DELETE FROM user_agents u WHERE NOT EXISTS \
     (SELECT 1 FROM violations v WHERE v.user_agent_id = u.id)";

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

    /// [`Health::Failing`] from a failed commit until one succeeds (while no reports come,
    /// an empty transaction is tried every few seconds on the writers' connection, so a
    /// server that is back shows without traffic), else [`Health::Full`] while every place
    /// in the queue is taken.
    fn health(&self) -> Health {
        let full = (self.jobs.capacity() == 0).then_some(self.queue);
        self.db.health.health(full)
    }
}

impl ReportStore for PostgresSink {
    /// Reads the `groups` aggregate and the noise count in one read-only, repeatable-read
    /// transaction (as many rows as groups, not one per report), on the caller's runtime.
    fn summary(&self, limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>> {
        Box::pin(read::summary(&self.db, sql::int(limit as u64)))
    }

    /// Counts the rows of the window by hour (`received_at / 3600`) in one read-only
    /// statement, with the index on `received_at`, on the caller's runtime.
    fn activity<'a>(
        &'a self,
        keys: &'a [GroupKey],
        window: HourWindow,
    ) -> BoxFuture<'a, Result<Activity, StoreError>> {
        Box::pin(read::activity(&self.db, keys, window))
    }

    /// Reads the `observations` received since `since`, grouped by destination and
    /// document origin, on the caller's runtime.
    fn inventory(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<DestinationUse>, StoreError>> {
        Box::pin(read::inventory(&self.db, secs(since)))
    }

    fn page_loads_reaching<'a>(
        &'a self,
        destinations: &'a [Origin],
        since: SystemTime,
    ) -> BoxFuture<'a, Result<f64, StoreError>> {
        let listed: Vec<String> = destinations.iter().map(|d| d.to_string()).collect();
        Box::pin(async move { read::page_loads_reaching(&self.db, &listed, secs(since)).await })
    }

    /// Groups the rows received since `since` in one statement, on the caller's runtime.
    fn reported_since(
        &self,
        since: SystemTime,
    ) -> BoxFuture<'_, Result<Vec<Reported>, StoreError>> {
        Box::pin(read::reported(&self.db, secs(since)))
    }

    /// Violations and observations of the window by hour, in one statement.
    fn heard(&self, window: HourWindow) -> BoxFuture<'_, Result<Vec<u64>, StoreError>> {
        Box::pin(read::heard(&self.db, window))
    }

    fn rollout(&self) -> BoxFuture<'_, Result<Option<Rollout>, StoreError>> {
        Box::pin(read::rollout(&self.db))
    }

    /// One `UPDATE … WHERE version = $3` (or an insert when there is none): of the
    /// collectors of a fleet replacing the same version, one changes the row.
    fn replace_rollout(
        &self,
        expected: Option<u64>,
        next: Rollout,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let version = sql::int(expected.map_or(1, |v| v + 1));
            read::replace_rollout(&self.db, expected.map(sql::int), version, &next.to_record())
                .await
        })
    }
}

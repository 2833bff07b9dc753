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
//! - **Group commit, bounded queue.** Batches wait in a bounded queue; each writer takes
//!   what is waiting (up to 1,024 violations) into one transaction of the same few
//!   statements whatever its size (`unnest` of arrays), pipelined: one round trip. A full
//!   queue answers [`SinkError::Full`]: the collector answers 503 and clients retry.
//! - **Losing the database is survivable.** When PostgreSQL goes away, commits fail and the
//!   collector answers 503 (never 204 for a report it did not store); the broken
//!   connection is dropped from the pool and new ones are made on demand, so the sink
//!   accepts again as soon as the server is back. A commit whose answer was lost with the
//!   connection is answered 503 although it may have committed: the client's retry can then
//!   store that report twice (at least once, never lost).
//!
//! ```no_run
//! use connect_src::report::{Collector, PostgresSink, ReportStore};
//!
//! let sink = PostgresSink::builder()
//!     .queue(256)  // batches waiting for a writer, then 503
//!     .writers(1)  // transactions in flight (the default; README, Performance)
//!     .open("postgres://reports@127.0.0.1:5432/reports")?;
//! let collector = Collector::builder().store(sink.clone()).build();
//! assert_eq!(sink.summary(10)?.total, 0);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
//!
//! **Runtime.** The sink runs its connections and writers on a small runtime of its own
//! (one thread), so it works the same under any tokio runtime of the application, and the
//! sync parts of the API — [`PostgresSinkBuilder::open`], [`ReportStore::summary`],
//! [`PostgresSink::count`] — hand their query to that runtime and wait for the answer on a
//! channel. That is the blocking bridge `ReportStore::summary` needs: the collector calls it
//! on tokio's blocking pool, where waiting is allowed; it never calls `Handle::block_on`,
//! so calling it from any thread cannot panic.
//!
//! **Schema.** Plain tables, as in SQLite: `violations` (one row per report, times in Unix
//! seconds), `groups` (the summary's aggregate), `counters` (`filtered`), and
//! `connect_src_schema` (its version). Opening migrates an older schema under
//! `pg_advisory_xact_lock`, so several processes starting at once migrate it once; a schema
//! newer than this version knows is refused untouched ([`PostgresOpenError::NewerSchema`]).
//! `total` in the summary is the sum of the group counts, read without scanning
//! `violations` (rows deleted by hand stay counted until [`PostgresSink::prune_before`]
//! recounts).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use super::activity::{Activity, HourWindow};
use super::meter;
use super::parse::Violation;
use super::sink::{BoxFuture, ReportSink, ReportStore, SinkError};
use super::sql::{
    self, activity_by_hour, group_columns, groups_from_rows, secs, violation_columns, Commit,
    MAX_ROWS_PER_COMMIT,
};
use super::summary::{GroupKey, StoreError, Summary};

/// The schema this version writes: 1, the first.
const SCHEMA_VERSION: i32 = 1;

/// Arbitrary and fixed: the advisory lock every connect-src process takes to migrate.
const MIGRATION_LOCK: i64 = 0x636f_6e6e_6563_7473; // "connects"

/// `MIGRATIONS[n]` takes the schema from version `n` to `n + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = ["
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
"];

const INSERT_VIOLATIONS: &str = concat!(
    "INSERT INTO violations (",
    violation_columns!(),
    ") SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::bigint[], \
     $12::bigint[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], \
     $18::text[])"
);

const UPSERT_GROUPS: &str = concat!(
    "INSERT INTO groups (",
    group_columns!(),
    ") SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
     $6::bigint[], $7::bigint[], $8::text[], $9::text[])
     ON CONFLICT (directive, blocked_origin, document_path, disposition, class) DO UPDATE SET
        count = groups.count + excluded.count,
        first_seen = LEAST(groups.first_seen, excluded.first_seen),
        last_seen = GREATEST(groups.last_seen, excluded.last_seen)"
);

const ADD_FILTERED: &str = "
INSERT INTO counters (name, value) VALUES ('filtered', $1)
ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value";

const GROUPS_FROM_ROWS: &str = concat!(
    "INSERT INTO groups (",
    group_columns!(),
    ") ",
    groups_from_rows!()
);

/// How many times a transaction the server rolled back (deadlock, serialization failure)
/// is tried again before the batch is answered 503.
const RETRIES: usize = 3;

/// Why [`PostgresSink`] could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum PostgresOpenError {
    /// The URL is not a PostgreSQL connection string (`postgres://user@host:port/db`).
    Url(tokio_postgres::Error),
    /// No connection could be made (server down, wrong port, authentication refused…).
    Connect(String),
    /// The server refused a statement while reading or migrating the schema.
    Postgres(tokio_postgres::Error),
    /// The database was written by a later version of connect-src, with a schema this
    /// version does not know; it is left untouched.
    NewerSchema {
        /// The version in `connect_src_schema`.
        found: i32,
        /// The newest schema this version reads and writes.
        supported: i32,
    },
    /// The sink's runtime thread could not be started.
    Runtime(std::io::Error),
}

impl fmt::Display for PostgresOpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostgresOpenError::Url(e) => write!(
                f,
                "not a PostgreSQL URL ({e}); expected postgres://user[:password]@host[:port]/database"
            ),
            PostgresOpenError::Connect(e) => write!(f, "cannot connect to PostgreSQL: {e}"),
            PostgresOpenError::Postgres(e) => write!(f, "PostgreSQL: {}", pg_text(e)),
            PostgresOpenError::NewerSchema { found, supported } => write!(
                f,
                "the database has schema version {found}, newer than the {supported} this \
                 version of connect-src knows; upgrade connect-src or use another database"
            ),
            PostgresOpenError::Runtime(e) => {
                write!(f, "cannot start the PostgreSQL sink's thread: {e}")
            }
        }
    }
}

impl std::error::Error for PostgresOpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PostgresOpenError::Url(e) | PostgresOpenError::Postgres(e) => Some(e),
            PostgresOpenError::Runtime(e) => Some(e),
            PostgresOpenError::Connect(_) | PostgresOpenError::NewerSchema { .. } => None,
        }
    }
}

/// A PostgreSQL error with the server's message when there is one (tokio-postgres's own
/// `Display` says only "db error").
fn pg_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

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
    /// [`SinkError::Full`] and the collector answers 503.
    pub fn queue(mut self, batches: usize) -> Self {
        self.queue = batches.max(1);
        self
    }

    /// Transactions in flight at once, each on its own connection, at least 1; default 1.
    /// One writer makes the biggest group commits (everything that arrived during the
    /// previous commit), which costs PostgreSQL the least CPU per report; more writers
    /// overlap commits when the server's commit latency, not its CPU, is the limit. The
    /// pool holds one more connection for reads (summary, prune).
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
    pub fn open(self, url: &str) -> Result<PostgresSink, PostgresOpenError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(PostgresOpenError::Url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("connect-src");
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("connect-src-postgres")
            .enable_all()
            .build()
            .map_err(PostgresOpenError::Runtime)?;
        let rt = Arc::new(OwnRuntime(Mutex::new(Some(rt))));
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
            .max_size(self.writers + 1)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.timeout))
            .recycle_timeout(Some(self.timeout))
            .build()
            .map_err(|e| PostgresOpenError::Connect(e.to_string()))?;
        let (jobs, rx) = mpsc::channel(self.queue);
        let db = Arc::new(Db {
            pool,
            timeout: self.timeout,
        });
        let opening = db.clone();
        rt.run(async move { migrate(&opening).await })
            .unwrap_or_else(|| Err(PostgresOpenError::Connect(STOPPED.into())))?;
        let writers = Arc::new(Semaphore::new(self.writers));
        let dispatcher = db.clone();
        rt.spawn(async move { dispatch(dispatcher, rx, writers).await });
        Ok(PostgresSink {
            jobs,
            queue: self.queue,
            db,
            rt,
        })
    }
}

/// The sink's own runtime, shut down without blocking when the last sink clone goes (a
/// runtime dropped inside another runtime's task would panic). Only [`PostgresSink`]
/// clones hold it, never a task running on it, so it is never dropped on its own thread.
struct OwnRuntime(Mutex<Option<tokio::runtime::Runtime>>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        let rt = self.0.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(rt) = rt {
            rt.shutdown_background();
        }
    }
}

impl OwnRuntime {
    fn handle(&self) -> Option<tokio::runtime::Handle> {
        let rt = self.0.lock().unwrap_or_else(|p| p.into_inner());
        rt.as_ref().map(|rt| rt.handle().clone())
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, fut: F) -> bool {
        self.handle().map(|h| drop(h.spawn(fut))).is_some()
    }

    /// Runs `fut` on the sink's runtime and waits for it on this thread: the blocking
    /// bridge for the sync API (never `block_on`, so no "runtime within a runtime" panic).
    /// `None` when the runtime is gone.
    fn run<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().ok()
    }
}

/// What the tasks on the sink's runtime share: the pool and the timeout.
struct Db {
    pool: Pool,
    timeout: Duration,
}

impl Db {
    /// A pooled connection, or why not (as a sink error).
    async fn connection(&self) -> Result<Object, String> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => pg_text(&e),
            e => e.to_string(),
        })
    }
}

/// Takes a connection out of the pool for good: after an error it may be broken or in
/// the middle of a transaction, and the pool makes a new one when needed.
fn discard(conn: Object) {
    drop(Object::take(conn));
}

async fn migrate(shared: &Db) -> Result<(), PostgresOpenError> {
    let mut conn = shared
        .connection()
        .await
        .map_err(PostgresOpenError::Connect)?;
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
            return Ok(Err(PostgresOpenError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
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
            Err(PostgresOpenError::Postgres(e))
        }
    }
}

enum Job {
    Batch(Vec<Violation>, oneshot::Sender<Result<(), SinkError>>),
    Filtered(u64),
}

impl Job {
    fn rows(&self) -> usize {
        match self {
            Job::Batch(b, _) => b.len(),
            Job::Filtered(_) => 0,
        }
    }
}

/// Takes what is waiting into one commit per free writer. It waits for a free writer
/// before taking anything, so while every writer is busy batches gather in the queue and
/// the next commit takes them all (group commit; a lone report is never held back).
async fn dispatch(shared: Arc<Db>, mut jobs: mpsc::Receiver<Job>, writers: Arc<Semaphore>) {
    loop {
        let Ok(permit) = writers.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = jobs.recv().await else {
            return; // every PostgresSink clone is gone
        };
        let mut rows = first.rows();
        let mut pending = vec![first];
        while rows < MAX_ROWS_PER_COMMIT {
            match jobs.try_recv() {
                Ok(j) => {
                    rows += j.rows();
                    pending.push(j);
                }
                Err(_) => break,
            }
        }
        meter::queue_depth("postgres", jobs.len());
        let shared = shared.clone();
        tokio::spawn(write(shared, pending, rows, permit));
    }
}

async fn write(shared: Arc<Db>, jobs: Vec<Job>, rows: usize, _permit: OwnedSemaphorePermit) {
    let started = Instant::now();
    let mut commit = Commit::default();
    for job in &jobs {
        match job {
            Job::Batch(b, _) => commit.add(b),
            Job::Filtered(n) => commit.add_filtered(*n),
        }
    }
    let result = store(&shared, &commit).await;
    meter::commit("postgres", started, rows, result.is_ok());
    drop(commit);
    for job in jobs {
        if let Job::Batch(_, ack) = job {
            let _ = ack.send(result.clone());
        }
    }
}

/// Stores one commit, trying again when the server rolled it back for a conflict.
async fn store(shared: &Db, commit: &Commit<'_>) -> Result<(), SinkError> {
    let mut tries = 0;
    loop {
        let mut conn = shared.connection().await.map_err(SinkError::Failed)?;
        let attempt = tokio::time::timeout(shared.timeout, insert(&mut conn, commit)).await;
        match attempt {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => {
                let retry = matches!(
                    e.code(),
                    Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
                        || *c == SqlState::T_R_SERIALIZATION_FAILURE
                );
                discard(conn);
                tries += 1;
                if !retry || tries > RETRIES {
                    return Err(SinkError::Failed(format!("PostgreSQL: {}", pg_text(&e))));
                }
            }
            Err(_) => {
                discard(conn);
                return Err(SinkError::Failed(format!(
                    "PostgreSQL: no commit within {:?}",
                    shared.timeout
                )));
            }
        }
    }
}

/// PostgreSQL refuses NUL in text; a report may carry one (`\u0000` in its JSON). Copies
/// only such values.
fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

fn opt_text(s: Option<&str>) -> Option<Cow<'_, str>> {
    s.map(text)
}

/// One transaction: the rows, then the groups, then the noise count. The statements are
/// pipelined (sent together, in order, then the answers read), so a commit costs one round
/// trip to the server, not five. Any failing statement fails the whole: the server rolls
/// the transaction back, the error is returned, and the caller drops the connection.
async fn insert(conn: &mut Object, commit: &Commit<'_>) -> Result<(), tokio_postgres::Error> {
    let insert_rows = conn.prepare_cached(INSERT_VIOLATIONS).await?;
    let upsert_groups = conn.prepare_cached(UPSERT_GROUPS).await?;
    let add_filtered = conn.prepare_cached(ADD_FILTERED).await?;
    let client: &tokio_postgres::Client = conn;
    let n = commit.len();
    let mut c = Columns::with_capacity(n);
    for r in commit.rows() {
        c.received_at.push(r.received_at);
        c.document_url.push(text(r.document_url));
        c.document_path.push(text(r.document_path));
        c.blocked_url.push(text(r.blocked_url));
        c.blocked_origin.push(text(r.blocked_origin));
        c.directive.push(text(r.directive));
        c.violated_directive.push(opt_text(r.violated_directive));
        c.disposition.push(r.disposition);
        c.status_code.push(r.status_code);
        c.source_file.push(opt_text(r.source_file));
        c.line.push(r.line);
        c.col.push(r.col);
        c.sample.push(opt_text(r.sample));
        c.referrer.push(opt_text(r.referrer));
        c.user_agent.push(opt_text(r.user_agent));
        c.original_policy.push(opt_text(r.original_policy));
        c.format.push(r.format);
        c.class.push(r.class);
    }
    let mut g = GroupColumns::default();
    for row in commit.groups() {
        g.directive.push(text(row.directive));
        g.blocked_origin.push(text(row.blocked_origin));
        g.document_path.push(text(row.document_path));
        g.disposition.push(row.disposition);
        g.count.push(row.count);
        g.first_seen.push(row.first_seen);
        g.last_seen.push(row.last_seen);
        g.sample.push(text(row.sample));
        g.class.push(row.class);
    }
    let filtered = commit.filtered();
    // Each request goes out when its future is first polled; try_join! polls them in this
    // order, so the server sees BEGIN, the statements, COMMIT.
    let begin = client.batch_execute("BEGIN");
    let rows = async {
        if n == 0 {
            return Ok(0);
        }
        client
            .execute(
                &insert_rows,
                &[
                    &c.received_at,
                    &c.document_url,
                    &c.document_path,
                    &c.blocked_url,
                    &c.blocked_origin,
                    &c.directive,
                    &c.violated_directive,
                    &c.disposition,
                    &c.status_code,
                    &c.source_file,
                    &c.line,
                    &c.col,
                    &c.sample,
                    &c.referrer,
                    &c.user_agent,
                    &c.original_policy,
                    &c.format,
                    &c.class,
                ],
            )
            .await
    };
    let groups = async {
        if n == 0 {
            return Ok(0);
        }
        client
            .execute(
                &upsert_groups,
                &[
                    &g.directive,
                    &g.blocked_origin,
                    &g.document_path,
                    &g.disposition,
                    &g.count,
                    &g.first_seen,
                    &g.last_seen,
                    &g.sample,
                    &g.class,
                ],
            )
            .await
    };
    let noise = async {
        if filtered == 0 {
            return Ok(0);
        }
        client.execute(&add_filtered, &[&filtered]).await
    };
    // A COMMIT after a failed statement answers ROLLBACK without an error; the failed
    // statement's own error is what try_join! returns then.
    let end = client.batch_execute("COMMIT");
    tokio::try_join!(begin, rows, groups, noise, end).map(drop)
}

/// One array per `violations` column, for `unnest`.
#[derive(Default)]
struct Columns<'a> {
    received_at: Vec<i64>,
    document_url: Vec<Cow<'a, str>>,
    document_path: Vec<Cow<'a, str>>,
    blocked_url: Vec<Cow<'a, str>>,
    blocked_origin: Vec<Cow<'a, str>>,
    directive: Vec<Cow<'a, str>>,
    violated_directive: Vec<Option<Cow<'a, str>>>,
    disposition: Vec<&'static str>,
    status_code: Vec<Option<i64>>,
    source_file: Vec<Option<Cow<'a, str>>>,
    line: Vec<Option<i64>>,
    col: Vec<Option<i64>>,
    sample: Vec<Option<Cow<'a, str>>>,
    referrer: Vec<Option<Cow<'a, str>>>,
    user_agent: Vec<Option<Cow<'a, str>>>,
    original_policy: Vec<Option<Cow<'a, str>>>,
    format: Vec<&'static str>,
    class: Vec<&'static str>,
}

impl Columns<'_> {
    fn with_capacity(n: usize) -> Self {
        Columns {
            received_at: Vec::with_capacity(n),
            document_url: Vec::with_capacity(n),
            document_path: Vec::with_capacity(n),
            blocked_url: Vec::with_capacity(n),
            blocked_origin: Vec::with_capacity(n),
            directive: Vec::with_capacity(n),
            violated_directive: Vec::with_capacity(n),
            disposition: Vec::with_capacity(n),
            status_code: Vec::with_capacity(n),
            source_file: Vec::with_capacity(n),
            line: Vec::with_capacity(n),
            col: Vec::with_capacity(n),
            sample: Vec::with_capacity(n),
            referrer: Vec::with_capacity(n),
            user_agent: Vec::with_capacity(n),
            original_policy: Vec::with_capacity(n),
            format: Vec::with_capacity(n),
            class: Vec::with_capacity(n),
        }
    }
}

/// One array per `groups` column, for `unnest`.
#[derive(Default)]
struct GroupColumns<'a> {
    directive: Vec<Cow<'a, str>>,
    blocked_origin: Vec<Cow<'a, str>>,
    document_path: Vec<Cow<'a, str>>,
    disposition: Vec<&'static str>,
    count: Vec<i64>,
    first_seen: Vec<i64>,
    last_seen: Vec<i64>,
    sample: Vec<Cow<'a, str>>,
    class: Vec<&'static str>,
}

/// PostgreSQL sink and store. Cheap to clone; every clone shares the writers and the pool.
#[derive(Clone)]
pub struct PostgresSink {
    jobs: mpsc::Sender<Job>,
    queue: usize,
    db: Arc<Db>,
    rt: Arc<OwnRuntime>,
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

const STOPPED: &str = "the PostgreSQL sink's thread stopped";

impl PostgresSink {
    /// Options: queue length, writers, timeout.
    pub fn builder() -> PostgresSinkBuilder {
        PostgresSinkBuilder {
            queue: 256,
            writers: 1,
            timeout: Duration::from_secs(10),
        }
    }

    /// Connects with the default options (a queue of 256 batches, 1 writer, 10 s timeout).
    pub fn open(url: &str) -> Result<PostgresSink, PostgresOpenError> {
        PostgresSink::builder().open(url)
    }

    /// Deletes the violations received before `t` and recounts the groups from the rest,
    /// in one transaction; returns how many were deleted. It locks both tables against
    /// writers (of every process) while it runs: their commits wait, then go on.
    pub async fn prune_before(&self, t: SystemTime) -> Result<u64, SinkError> {
        let before = secs(t);
        let (ack, done) = oneshot::channel();
        let shared = self.db.clone();
        let spawned = self.rt.spawn(async move {
            let _ = ack.send(prune(&shared, before).await);
        });
        if !spawned {
            return Err(SinkError::Failed(STOPPED.into()));
        }
        done.await
            .unwrap_or_else(|_| Err(SinkError::Failed(STOPPED.into())))
    }

    /// Number of stored violations (`count(*)`: a scan of the table; blocks like
    /// [`ReportStore::summary`]).
    pub fn count(&self) -> Result<u64, StoreError> {
        let shared = self.db.clone();
        self.rt
            .run(async move {
                let conn = shared.connection().await.map_err(StoreError::new)?;
                let n: i64 = conn
                    .query_one("SELECT count(*) FROM violations", &[])
                    .await
                    .map_err(|e| read_error(conn, e))?
                    .get(0);
                Ok(n.max(0) as u64)
            })
            .unwrap_or_else(|| Err(StoreError::new(STOPPED)))
    }
}

fn read_error(conn: Object, e: tokio_postgres::Error) -> StoreError {
    discard(conn);
    StoreError::new(format!("PostgreSQL: {}", pg_text(&e)))
}

async fn prune(shared: &Db, before: i64) -> Result<u64, SinkError> {
    let mut conn = shared.connection().await.map_err(SinkError::Failed)?;
    let result = async {
        let tx = conn.transaction().await?;
        // Writers take ROW EXCLUSIVE on violations, then on groups; this conflicts with
        // both, taken in the same order, so it waits for commits in flight and holds new
        // ones back until the recount is done.
        tx.batch_execute("LOCK TABLE violations, groups IN SHARE ROW EXCLUSIVE MODE")
            .await?;
        let deleted = tx
            .execute("DELETE FROM violations WHERE received_at < $1", &[&before])
            .await?;
        if deleted > 0 {
            tx.batch_execute("DELETE FROM groups").await?;
            tx.batch_execute(GROUPS_FROM_ROWS).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
    .await;
    result.map_err(|e: tokio_postgres::Error| {
        discard(conn);
        SinkError::Failed(format!("PostgreSQL: {}", pg_text(&e)))
    })
}

impl ReportSink for PostgresSink {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), SinkError>> {
        let (ack, done) = oneshot::channel();
        let sent = self.jobs.try_send(Job::Batch(batch, ack));
        Box::pin(async move {
            match sent {
                Ok(()) => done
                    .await
                    .unwrap_or_else(|_| Err(SinkError::Failed(STOPPED.into()))),
                Err(mpsc::error::TrySendError::Full(_)) => Err(SinkError::Full),
                Err(mpsc::error::TrySendError::Closed(_)) => Err(SinkError::Failed(STOPPED.into())),
            }
        })
    }

    fn record_filtered(&self, n: u64) {
        // Best effort: a full queue drops the count, never a report.
        let _ = self.jobs.try_send(Job::Filtered(n));
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
    /// transaction (as many rows as groups, not one per report). Blocks this thread until
    /// the sink's runtime has the answer: the collector calls it on tokio's blocking pool.
    fn summary(&self, limit: usize) -> Result<Summary, StoreError> {
        let shared = self.db.clone();
        let limit = sql::int(limit as u64);
        let read = async move {
            let mut conn = shared.connection().await.map_err(StoreError::new)?;
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
                            " FROM groups ORDER BY count DESC, blocked_origin COLLATE \"C\" LIMIT $1"
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
        };
        self.rt
            .run(read)
            .unwrap_or_else(|| Err(StoreError::new(STOPPED)))
    }
    /// Counts the rows of the window by hour (`received_at / 3600`) in one read-only
    /// statement, with the index on `received_at`. Blocks this thread like
    /// [`summary`](Self::summary).
    fn activity(&self, keys: &[GroupKey], window: HourWindow) -> Result<Activity, StoreError> {
        let shared = self.db.clone();
        let (from, until) = sql::window_secs(window);
        // Rows hold keys as stored (NUL as U+FFFD, `text`): their counts go to every key
        // asked for that is stored so.
        let mut asked: HashMap<GroupKey, Vec<&GroupKey>> = HashMap::new();
        for k in keys {
            let stored = sql::activity_key(
                text(&k.directive).into_owned(),
                text(&k.blocked_origin).into_owned(),
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
        let origin = column(|k| &k.blocked_origin);
        let path = column(|k| &k.document_path);
        let disposition = column(|k| k.disposition.as_str());
        let class = column(|k| k.class.as_str());
        let mut out = Activity::new(window, keys);
        let read = async move {
            let conn = shared.connection().await.map_err(StoreError::new)?;
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
            Ok::<_, StoreError>(rows)
        };
        let rows = self
            .rt
            .run(read)
            .unwrap_or_else(|| Err(StoreError::new(STOPPED)))?;
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
}

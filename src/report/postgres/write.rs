//! The writers: the bounded queue's jobs, group commit, and one transaction per commit
//! (rows, user agents, groups, reach, observations and noise count, pipelined), commits in
//! flight sharing one connection; probes while the commits fail.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use deadpool_postgres::Object;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_postgres::error::SqlState;
use tokio_postgres::Statement;

use super::db::{db, discard, Db};
use super::partition::DAY;
use crate::report::meter;
use crate::report::sql::{
    group_columns, observation_columns, violation_columns, Commit, MAX_ROWS_PER_COMMIT,
};
use crate::report::store::{Observation, ProbeWait, StoreError, Violation};

const INSERT_VIOLATIONS: &str = concat!(
    "INSERT INTO violations (",
    violation_columns!(),
    ") SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::bigint[], \
     $12::bigint[], $13::text[], $14::text[], $15::bigint[], $16::text[], $17::text[], \
     $18::text[], $19::bigint[])"
);

/// The commit's user agents, each kept once (a key already stored keeps its text); in key
/// order, as every writer, so two commits bringing the same new ones cannot deadlock.
const INSERT_USER_AGENTS: &str = "INSERT INTO user_agents (id, text) \
     SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT (id) DO NOTHING";

const INSERT_OBSERVATIONS: &str = concat!(
    "INSERT INTO observations (",
    observation_columns!(),
    ") SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
     $6::float8[], $7::text[], $8::bigint[], $9::text[])"
);

/// Each group's networks new to it, kept once, and its reach raised by how many were new
/// (after the groups' upsert, so the group rows exist; in key order, as every writer).
const ADD_REACH: &str = "WITH new AS (
    INSERT INTO group_networks (directive, blocked_origin, document_path, disposition, class,
        network)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
        $6::bigint[])
    ON CONFLICT DO NOTHING
    RETURNING directive, blocked_origin, document_path, disposition, class)
UPDATE groups g SET reach = g.reach + n.added
FROM (SELECT directive, blocked_origin, document_path, disposition, class, count(*) AS added
      FROM new GROUP BY directive, blocked_origin, document_path, disposition, class) n
WHERE g.directive = n.directive AND g.blocked_origin = n.blocked_origin
  AND g.document_path = n.document_path AND g.disposition = n.disposition
  AND g.class = n.class";

const UPSERT_GROUPS: &str = concat!(
    "INSERT INTO groups (",
    group_columns!(),
    ") SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
     $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::bigint[])
     ON CONFLICT (directive, blocked_origin, document_path, disposition, class) DO UPDATE SET
        count = groups.count + excluded.count,
        first_seen = LEAST(groups.first_seen, excluded.first_seen),
        last_seen = GREATEST(groups.last_seen, excluded.last_seen)"
);

const ADD_FILTERED: &str = "
INSERT INTO counters (name, value) VALUES ('filtered', $1)
ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value";

/// How long the dispatcher waits for a batch before it looks at the health again (a
/// commit in flight may have failed meanwhile: then probes are due).
const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// How many times a transaction the server rolled back (deadlock, serialization failure)
/// is tried again before the batch is answered 503.
const RETRIES: usize = 3;

pub(super) enum Job {
    Batch(Vec<Violation>, oneshot::Sender<Result<(), StoreError>>),
    Observe(Vec<Observation>, oneshot::Sender<Result<(), StoreError>>),
    Filtered(u64),
}

impl Job {
    fn rows(&self) -> usize {
        match self {
            Job::Batch(b, _) => b.len(),
            Job::Observe(b, _) => b.len(),
            Job::Filtered(_) => 0,
        }
    }
}

/// Takes what is waiting into one commit per free writer. It waits for a free writer
/// before taking anything, so while every writer is busy batches gather in the queue and
/// the next commit takes them all (group commit; a lone report is never held back).
pub(super) async fn dispatch(
    shared: Arc<Db>,
    mut jobs: mpsc::Receiver<Job>,
    writers: Arc<Semaphore>,
) {
    let slot: Arc<Slot> = Arc::default();
    let mut probe = ProbeWait::default();
    loop {
        let Ok(permit) = writers.clone().acquire_owned().await else {
            return;
        };
        // While commits fail, a probe is due after the probe's wait; else the wait only
        // looks again (a commit in flight may fail meanwhile).
        let failing = shared.health.is_failing();
        let wait = if failing {
            probe.next()
        } else {
            probe.reset();
            LOOK_AGAIN
        };
        let first = match tokio::time::timeout(wait, jobs.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) => return, // every PostgresSink clone is gone
            Err(_) if failing => {
                // Failing, and no report for a while: an empty transaction on the writers'
                // connection says whether the server takes commits again.
                let result = store(&shared, &slot, &Commit::default()).await;
                shared.health.record(&result);
                drop(permit);
                continue;
            }
            Err(_) => continue,
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
        tokio::spawn(write(shared, slot.clone(), pending, rows, permit));
    }
}

async fn write(
    shared: Arc<Db>,
    slot: Arc<Slot>,
    jobs: Vec<Job>,
    rows: usize,
    _permit: OwnedSemaphorePermit,
) {
    let started = Instant::now();
    let mut commit = Commit::default();
    for job in &jobs {
        match job {
            Job::Batch(b, _) => commit.add(b),
            Job::Observe(b, _) => commit.observe(b),
            Job::Filtered(n) => commit.add_filtered(*n),
        }
    }
    // A day no partition holds yet (the first commit after midnight finds tomorrow's
    // missing, two days ahead): made before the rows go in.
    let days: BTreeSet<i64> = commit
        .rows()
        .map(|r| r.received_at)
        .chain(commit.observation_rows().map(|o| o.received_at))
        .map(|t| t.div_euclid(DAY))
        .collect();
    shared.partitions.ensure(shared.connection(), days).await;
    let result = store(&shared, &slot, &commit).await;
    meter::commit("postgres", started, rows, result.is_ok());
    shared.health.record(&result);
    drop(commit);
    for job in jobs {
        if let Job::Batch(_, ack) | Job::Observe(_, ack) = job {
            let _ = ack.send(result.clone());
        }
    }
}

/// The connection the writers share, its statements prepared. Every commit in flight is
/// pipelined on it: `insert` queues a whole transaction (BEGIN to COMMIT) in one poll, and
/// the sink's runtime has one thread, so two transactions never interleave; the server
/// runs them one after the other with no wait between them. An error in one rolls back
/// only that one.
struct WriterConnection {
    conn: Option<Object>,
    insert_rows: Statement,
    insert_user_agents: Statement,
    upsert_groups: Statement,
    add_reach: Statement,
    insert_observations: Statement,
    add_filtered: Statement,
    /// Failed or timed out: not used for new commits, discarded (not returned to the
    /// pool) when the last commit on it is done.
    broken: AtomicBool,
}

impl Drop for WriterConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if *self.broken.get_mut() {
                discard(conn);
            }
        }
    }
}

/// Where the writers find the shared connection (none until the first commit, or after
/// one broke).
type Slot = tokio::sync::Mutex<Option<Arc<WriterConnection>>>;

/// The shared connection, made (and its statements prepared) when there is none usable.
async fn writer_connection(shared: &Db, slot: &Slot) -> Result<Arc<WriterConnection>, StoreError> {
    let mut held = slot.lock().await;
    if let Some(w) = held.as_ref() {
        let closed = w.conn.as_ref().is_none_or(|c| c.is_closed());
        if !closed && !w.broken.load(Ordering::Relaxed) {
            return Ok(w.clone());
        }
    }
    let conn = shared.connection().await?;
    // The statements first; the connection goes into the value once they are prepared.
    let prepared = async {
        Ok::<_, tokio_postgres::Error>(WriterConnection {
            conn: None,
            insert_rows: conn.prepare_cached(INSERT_VIOLATIONS).await?,
            insert_user_agents: conn.prepare_cached(INSERT_USER_AGENTS).await?,
            upsert_groups: conn.prepare_cached(UPSERT_GROUPS).await?,
            add_reach: conn.prepare_cached(ADD_REACH).await?,
            insert_observations: conn.prepare_cached(INSERT_OBSERVATIONS).await?,
            add_filtered: conn.prepare_cached(ADD_FILTERED).await?,
            broken: AtomicBool::new(false),
        })
    }
    .await;
    match prepared {
        Ok(mut w) => {
            w.conn = Some(conn);
            let w = Arc::new(w);
            *held = Some(w.clone());
            Ok(w)
        }
        Err(e) => {
            discard(conn);
            Err(db(e))
        }
    }
}

/// Takes a connection that failed out of use.
async fn retire(slot: &Slot, w: &Arc<WriterConnection>) {
    w.broken.store(true, Ordering::Relaxed);
    let mut held = slot.lock().await;
    if held.as_ref().is_some_and(|h| Arc::ptr_eq(h, w)) {
        *held = None;
    }
}

/// Stores one commit, trying again when the server rolled it back for a conflict.
async fn store(shared: &Db, slot: &Slot, commit: &Commit<'_>) -> Result<(), StoreError> {
    let mut tries = 0;
    loop {
        let w = writer_connection(shared, slot).await?;
        let attempt = tokio::time::timeout(shared.timeout, insert(&w, commit)).await;
        match attempt {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => {
                let retry = matches!(
                    e.code(),
                    Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
                        || *c == SqlState::T_R_SERIALIZATION_FAILURE
                );
                retire(slot, &w).await;
                tries += 1;
                if !retry || tries > RETRIES {
                    return Err(db(e));
                }
            }
            Err(_) => {
                retire(slot, &w).await;
                return Err(StoreError::Timeout(shared.timeout));
            }
        }
    }
}

/// PostgreSQL refuses NUL in text; a report may carry one (`\u0000` in its JSON). Copies
/// only such values.
pub(super) fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

fn opt_text(s: Option<&str>) -> Option<Cow<'_, str>> {
    s.map(text)
}

/// One transaction: the rows, their user agents, the groups, reach, observations, then the
/// noise count (none of them for an empty commit, a probe). The statements are pipelined
/// (sent together, in order, then the answers read), so a commit costs one round trip to
/// the server, not seven. Any failing statement fails the whole: the server rolls
/// the transaction back, the error is returned, and the caller retires the connection.
async fn insert(w: &WriterConnection, commit: &Commit<'_>) -> Result<(), tokio_postgres::Error> {
    // No await before the statements are queued (see `WriterConnection`).
    let (insert_rows, insert_user_agents, upsert_groups, add_reach, insert_observations) = (
        &w.insert_rows,
        &w.insert_user_agents,
        &w.upsert_groups,
        &w.add_reach,
        &w.insert_observations,
    );
    let add_filtered = &w.add_filtered;
    let Some(conn) = w.conn.as_ref() else {
        unreachable!("a WriterConnection holds its connection until dropped")
    };
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
        c.user_agent_id.push(r.user_agent_id);
        c.original_policy.push(opt_text(r.original_policy));
        c.format.push(r.format);
        c.class.push(r.class);
        c.network.push(r.network);
    }
    let (mut agent_ids, mut agent_texts) = (Vec::new(), Vec::new());
    for (id, t) in commit.user_agent_rows() {
        agent_ids.push(id);
        agent_texts.push(text(t));
    }
    let mut reach = ReachColumns::default();
    for r in commit.reach_rows() {
        reach.directive.push(text(r.directive));
        reach.blocked_origin.push(text(r.blocked_origin));
        reach.document_path.push(text(r.document_path));
        reach.disposition.push(r.disposition);
        reach.class.push(r.class);
        reach.network.push(r.network);
    }
    let mut o = ObservationColumns::default();
    for r in commit.observation_rows() {
        o.received_at.push(r.received_at);
        o.destination.push(text(r.destination));
        o.document_origin.push(opt_text(r.document_origin));
        o.document_path.push(text(r.document_path));
        o.page_load.push(r.page_load);
        o.sample_rate.push(r.sample_rate);
        o.engine.push(r.engine);
        o.network.push(r.network);
        o.class.push(r.class);
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
        g.reach.push(row.reach);
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
                insert_rows,
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
                    &c.user_agent_id,
                    &c.original_policy,
                    &c.format,
                    &c.class,
                    &c.network,
                ],
            )
            .await
    };
    let agents = async {
        if agent_ids.is_empty() {
            return Ok(0);
        }
        client
            .execute(insert_user_agents, &[&agent_ids, &agent_texts])
            .await
    };
    let groups = async {
        if n == 0 {
            return Ok(0);
        }
        client
            .execute(
                upsert_groups,
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
                    &g.reach,
                ],
            )
            .await
    };
    let reached = async {
        if reach.network.is_empty() {
            return Ok(0);
        }
        client
            .execute(
                add_reach,
                &[
                    &reach.directive,
                    &reach.blocked_origin,
                    &reach.document_path,
                    &reach.disposition,
                    &reach.class,
                    &reach.network,
                ],
            )
            .await
    };
    let observed = async {
        if o.page_load.is_empty() {
            return Ok(0);
        }
        client
            .execute(
                insert_observations,
                &[
                    &o.received_at,
                    &o.destination,
                    &o.document_origin,
                    &o.document_path,
                    &o.page_load,
                    &o.sample_rate,
                    &o.engine,
                    &o.network,
                    &o.class,
                ],
            )
            .await
    };
    let noise = async {
        if filtered == 0 {
            return Ok(0);
        }
        client.execute(add_filtered, &[&filtered]).await
    };
    // A COMMIT after a failed statement answers ROLLBACK without an error; the failed
    // statement's own error is what try_join! returns then.
    let end = client.batch_execute("COMMIT");
    tokio::try_join!(begin, rows, agents, groups, reached, observed, noise, end).map(drop)
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
    user_agent_id: Vec<Option<i64>>,
    original_policy: Vec<Option<Cow<'a, str>>>,
    format: Vec<&'static str>,
    class: Vec<&'static str>,
    network: Vec<Option<i64>>,
}

/// One array per `group_networks` column, for `unnest`.
#[derive(Default)]
struct ReachColumns<'a> {
    directive: Vec<Cow<'a, str>>,
    blocked_origin: Vec<Cow<'a, str>>,
    document_path: Vec<Cow<'a, str>>,
    disposition: Vec<&'static str>,
    class: Vec<&'static str>,
    network: Vec<i64>,
}

/// One array per `observations` column, for `unnest`.
#[derive(Default)]
struct ObservationColumns<'a> {
    received_at: Vec<i64>,
    destination: Vec<Cow<'a, str>>,
    document_origin: Vec<Option<Cow<'a, str>>>,
    document_path: Vec<Cow<'a, str>>,
    page_load: Vec<i64>,
    sample_rate: Vec<f64>,
    engine: Vec<Option<&'static str>>,
    network: Vec<Option<i64>>,
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
            user_agent_id: Vec::with_capacity(n),
            original_policy: Vec::with_capacity(n),
            format: Vec::with_capacity(n),
            class: Vec::with_capacity(n),
            network: Vec::with_capacity(n),
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
    reach: Vec<i64>,
}

//! The writer thread: the queue's jobs, group commit (rows, user agents, groups, reach,
//! observations and noise count in one transaction), pruning, probes while failing, and the
//! clean stop.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use rusqlite::{params, Connection, TransactionBehavior};

use super::db;
use super::schema::{GROUPS_FROM_ROWS, GROUP_NETWORKS_FROM_ROWS};
use crate::report::meter;
use crate::report::sql::{
    group_columns, observation_columns, rollout_insert, rollout_update, violation_columns, Commit,
    MAX_ROWS_PER_COMMIT,
};
use crate::report::store::{CommitHealth, Observation, ProbeWait, StoreError, Violation};

const INSERT_VIOLATION: &str = concat!(
    "INSERT INTO violations (",
    violation_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19)"
);

/// A user agent, kept once: a key already stored keeps its text.
const INSERT_USER_AGENT: &str = "INSERT OR IGNORE INTO user_agents (id, text) VALUES (?1, ?2)";

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

/// User agents no stored violation refers to any more (after a prune).
const FORGET_USER_AGENTS: &str = "DELETE FROM user_agents WHERE id NOT IN \
     (SELECT user_agent_id FROM violations WHERE user_agent_id IS NOT NULL)";

type Ack<T> = tokio::sync::oneshot::Sender<Result<T, StoreError>>;

pub(super) enum Job {
    Batch(Vec<Violation>, Ack<()>),
    Observe(Vec<Observation>, Ack<()>),
    Filtered(u64),
    /// Delete the rows received before these Unix seconds, recount the groups.
    Prune(i64, Ack<u64>),
    /// Commit what came before, checkpoint, close the connection, stop.
    Close(Ack<()>),
    /// Replace the rollout record if its version is the one given (`None`: there is none):
    /// the new version, the record.
    Rollout(Option<i64>, i64, String, Ack<bool>),
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Job::Batch(b, _) => write!(f, "Batch({})", b.len()),
            Job::Observe(b, _) => write!(f, "Observe({})", b.len()),
            Job::Filtered(n) => write!(f, "Filtered({n})"),
            Job::Prune(t, _) => write!(f, "Prune({t})"),
            Job::Close(_) => f.write_str("Close"),
            Job::Rollout(expected, ..) => write!(f, "Rollout({expected:?})"),
        }
    }
}

impl Job {
    fn rows(&self) -> usize {
        match self {
            Job::Batch(b, _) => b.len(),
            Job::Observe(b, _) => b.len(),
            Job::Filtered(_) | Job::Prune(..) | Job::Close(_) | Job::Rollout(..) => 0,
        }
    }

    /// Runs alone, between commits (never grouped with reports).
    fn is_maintenance(&self) -> bool {
        matches!(self, Job::Prune(..) | Job::Close(_) | Job::Rollout(..))
    }
}

/// What the sink's handles and its writer share: the commits' health, and how many jobs
/// wait in the queue (a `SyncSender` cannot say).
#[derive(Debug, Default)]
pub(super) struct Shared {
    pub(super) health: CommitHealth,
    pub(super) queued: AtomicUsize,
}

/// The writer thread's loop: until every handle is gone or [`Job::Close`] comes.
pub(super) fn writer(mut conn: Connection, jobs: Receiver<Job>, shared: &Shared) {
    let mut pending = Vec::new();
    let mut next = None;
    let mut probe = ProbeWait::default();
    loop {
        let first = match next.take() {
            Some(job) => job,
            None => match receive(&jobs, shared, &mut probe) {
                Received::Job(job) => job,
                Received::Idle => {
                    // Failing, and no report for a while: an empty transaction says whether
                    // the database takes commits again.
                    shared.health.record(&commit(&mut conn, &[]).map_err(db));
                    continue;
                }
                Received::Gone => return, // every SqliteSink clone is gone
            },
        };
        match first {
            Job::Prune(before, ack) => {
                let _ = ack.send(prune(&mut conn, before).map_err(db));
                continue;
            }
            Job::Rollout(expected, version, record, ack) => {
                let _ = ack.send(replace_rollout(&conn, expected, version, &record).map_err(db));
                continue;
            }
            Job::Close(ack) => {
                let _ = ack.send(close(conn, &jobs, shared));
                return;
            }
            _ => {}
        }
        // Group commit: take what is already waiting (bounded) into one transaction. It
        // does not wait for more: under load, batches queue up during each commit by
        // themselves, and a lone report is not held back.
        let mut rows = first.rows();
        pending.push(first);
        while rows < MAX_ROWS_PER_COMMIT {
            match jobs.try_recv() {
                Ok(job) => {
                    shared.queued.fetch_sub(1, Ordering::Relaxed);
                    if job.is_maintenance() {
                        next = Some(job); // after this commit, in order
                        break;
                    }
                    rows += job.rows();
                    pending.push(job);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let result = commit(&mut conn, &pending).map_err(db);
        meter::commit("sqlite", started, rows, result.is_ok());
        shared.health.record(&result);
        if result.is_ok() {
            probe.reset();
        }
        for job in pending.drain(..) {
            if let Job::Batch(_, ack) | Job::Observe(_, ack) = job {
                let _ = ack.send(result.clone());
            }
        }
    }
}

enum Received {
    Job(Job),
    /// Failing, and nothing came within the probe's wait.
    Idle,
    Gone,
}

/// The next job; while the last commit failed, waits only until the next probe is due.
fn receive(jobs: &Receiver<Job>, shared: &Shared, probe: &mut ProbeWait) -> Received {
    let got = if shared.health.is_failing() {
        match jobs.recv_timeout(probe.next()) {
            Ok(job) => Ok(job),
            Err(RecvTimeoutError::Timeout) => return Received::Idle,
            Err(RecvTimeoutError::Disconnected) => Err(()),
        }
    } else {
        jobs.recv().map_err(drop)
    };
    match got {
        Ok(job) => {
            shared.queued.fetch_sub(1, Ordering::Relaxed);
            Received::Job(job)
        }
        Err(()) => Received::Gone,
    }
}

/// The clean stop: jobs that came after the close are answered [`StoreError::Closed`], the
/// WAL is checkpointed into the database file and truncated, and the connection closed
/// (the last connection to close removes the `-wal` and `-shm` files).
fn close(conn: Connection, jobs: &Receiver<Job>, shared: &Shared) -> Result<(), StoreError> {
    while let Ok(job) = jobs.try_recv() {
        shared.queued.fetch_sub(1, Ordering::Relaxed);
        match job {
            Job::Batch(_, ack) | Job::Observe(_, ack) | Job::Close(ack) => {
                let _ = ack.send(Err(StoreError::Closed(None)));
            }
            Job::Prune(_, ack) => {
                let _ = ack.send(Err(StoreError::Closed(None)));
            }
            Job::Rollout(.., ack) => {
                let _ = ack.send(Err(StoreError::Closed(None)));
            }
            Job::Filtered(_) => {}
        }
    }
    // (busy, WAL frames, frames checkpointed): busy when another process reads the WAL;
    // its own last close checkpoints then.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(db)?;
    conn.close().map_err(|(_, e)| db(e))
}

fn prune(conn: &mut Connection, before: i64) -> rusqlite::Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let deleted = tx.execute("DELETE FROM violations WHERE received_at < ?1", [before])?;
    if deleted > 0 {
        tx.execute_batch("DELETE FROM groups; DELETE FROM group_networks;")?;
        // The networks first: the groups' reach is counted from them.
        tx.execute_batch(GROUP_NETWORKS_FROM_ROWS)?;
        tx.execute_batch(GROUPS_FROM_ROWS)?;
        tx.execute_batch(FORGET_USER_AGENTS)?;
    }
    tx.execute("DELETE FROM observations WHERE received_at < ?1", [before])?;
    tx.commit()?;
    Ok(deleted as u64)
}

/// One transaction for all `jobs` (none: an empty transaction, the probe); rolled back
/// whole if any statement fails, so a batch is either stored with its group counts or not
/// at all (and then answered 503).
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
            // Never grouped (the writer runs them alone).
            Job::Prune(..) | Job::Close(_) | Job::Rollout(..) => {}
        }
    }
    let mut agent = conn.prepare_cached(INSERT_USER_AGENT)?;
    for (id, text) in commit.user_agent_rows() {
        agent.execute(params![id, text])?;
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
            r.user_agent_id,
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

/// One statement, atomic in SQLite (another process's writer waits on the file's lock):
/// applied only at the version read.
fn replace_rollout(
    conn: &Connection,
    expected: Option<i64>,
    version: i64,
    record: &str,
) -> rusqlite::Result<bool> {
    let changed = match expected {
        None => conn.execute(rollout_insert!("?1", "?2"), params![version, record])?,
        Some(v) => conn.execute(
            rollout_update!("?1", "?2", "?3"),
            params![version, record, v],
        )?,
    };
    Ok(changed == 1)
}

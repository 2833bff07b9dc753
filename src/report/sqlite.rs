//! A durable report sink on SQLite (feature `sqlite`; SQLite is bundled).
//!
//! A dedicated writer thread commits batches in WAL mode with `synchronous=FULL`, groups
//! whatever batches are waiting into one transaction, and acknowledges each batch only after
//! its commit returned: a report the collector answered 204 for is on disk and survives
//! `kill -9` (tests/sqlite_durability.rs) and, with FULL, an OS crash. The queue to the
//! writer is bounded; when it is full the collector answers 503.
//!
//! ```
//! use connect_src::report::{ReportStore, SqliteSink};
//!
//! let dir = std::env::temp_dir().join(format!("connect-src-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let sink = SqliteSink::open(dir.join("reports.sqlite"))?;
//! assert_eq!(sink.summary(10).total, 0);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags};

use super::parse::Violation;
use super::sink::{BoxFuture, ReportSink, ReportStore, SinkError};
use super::summary::{Group, Summary};

const SCHEMA: &str = "
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
    format TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS violations_group
    ON violations (directive, blocked_origin, document_path, disposition);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

enum Job {
    Batch(
        Vec<Violation>,
        tokio::sync::oneshot::Sender<Result<(), SinkError>>,
    ),
    Filtered(u64),
}

/// SQLite sink and store. Cheap to clone; every clone shares the writer thread.
#[derive(Debug, Clone)]
pub struct SqliteSink {
    jobs: SyncSender<Job>,
    read: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Batch(b, _) => write!(f, "Batch({})", b.len()),
            Job::Filtered(n) => write!(f, "Filtered({n})"),
        }
    }
}

fn configure(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(Duration::from_secs(5))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: the WAL is fsynced at every commit, so an acknowledged report survives an OS
    // crash too, not only a killed process (NORMAL would risk the last commits on power
    // loss). Commits are grouped, which keeps the cost per report small.
    c.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

impl SqliteSink {
    /// Opens (or creates) the database, with a queue of 256 batches to the writer.
    pub fn open(path: impl AsRef<Path>) -> rusqlite::Result<SqliteSink> {
        SqliteSink::open_with_queue(path, 256)
    }

    /// Opens with a custom writer queue length (at least 1). When the queue is full,
    /// [`submit`](ReportSink::submit) returns [`SinkError::Full`].
    pub fn open_with_queue(path: impl AsRef<Path>, queue: usize) -> rusqlite::Result<SqliteSink> {
        let path = path.as_ref().to_path_buf();
        let write = Connection::open(&path)?;
        configure(&write)?;
        write.execute_batch(SCHEMA)?;
        let read = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        read.busy_timeout(Duration::from_secs(5))?;
        let (tx, rx) = mpsc::sync_channel(queue.max(1));
        std::thread::Builder::new()
            .name("connect-src-sqlite".into())
            .spawn(move || writer(write, rx))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(SqliteSink {
            jobs: tx,
            read: Arc::new(Mutex::new(read)),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of stored violations.
    pub fn count(&self) -> rusqlite::Result<u64> {
        let c = self.read.lock().unwrap_or_else(|p| p.into_inner());
        c.query_row("SELECT COUNT(*) FROM violations", [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as u64)
    }
}

fn writer(mut conn: Connection, jobs: Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        // Group commit: take everything already waiting (bounded) into one transaction.
        let mut pending = vec![first];
        while pending.len() < 64 {
            match jobs.try_recv() {
                Ok(j) => pending.push(j),
                Err(_) => break,
            }
        }
        let result = write_all(&mut conn, &pending).map_err(|e| SinkError::Failed(e.to_string()));
        for job in pending {
            if let Job::Batch(_, ack) = job {
                let _ = ack.send(result.clone());
            }
        }
    }
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn write_all(conn: &mut Connection, jobs: &[Job]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO violations (received_at, document_url, document_path, blocked_url,
                blocked_origin, directive, violated_directive, disposition, status_code,
                source_file, line, col, sample, referrer, user_agent, original_policy, format)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )?;
        for job in jobs {
            match job {
                Job::Batch(batch, _) => {
                    for v in batch {
                        let (directive, origin, path, disposition) = super::sink::group_key(v);
                        insert.execute(params![
                            secs(v.received_at),
                            v.document_url,
                            path,
                            v.blocked_url,
                            origin,
                            directive,
                            v.violated_directive,
                            disposition,
                            v.status_code,
                            v.source_file,
                            v.line,
                            v.column,
                            v.sample,
                            v.referrer,
                            v.user_agent,
                            v.original_policy,
                            v.format.as_str(),
                        ])?;
                    }
                }
                Job::Filtered(n) => {
                    tx.execute(
                        "INSERT INTO counters (name, value) VALUES ('filtered', ?1)
                         ON CONFLICT(name) DO UPDATE SET value = value + ?1",
                        params![*n as i64],
                    )?;
                }
            }
        }
    }
    tx.commit()
}

impl ReportSink for SqliteSink {
    fn submit(&self, batch: Vec<Violation>) -> BoxFuture<'_, Result<(), SinkError>> {
        let (ack, done) = tokio::sync::oneshot::channel();
        let sent = self.jobs.try_send(Job::Batch(batch, ack));
        Box::pin(async move {
            match sent {
                Ok(()) => done
                    .await
                    .unwrap_or_else(|_| Err(SinkError::Failed("writer thread stopped".into()))),
                Err(TrySendError::Full(_)) => Err(SinkError::Full),
                Err(TrySendError::Disconnected(_)) => {
                    Err(SinkError::Failed("writer thread stopped".into()))
                }
            }
        })
    }

    fn record_filtered(&self, n: u64) {
        // Best effort: a full queue drops the count, never a report.
        let _ = self.jobs.try_send(Job::Filtered(n));
    }
}

impl ReportStore for SqliteSink {
    fn summary(&self, limit: usize) -> Summary {
        let c = self.read.lock().unwrap_or_else(|p| p.into_inner());
        let total = c
            .query_row("SELECT COUNT(*) FROM violations", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0) as u64;
        let filtered = c
            .query_row(
                "SELECT value FROM counters WHERE name = 'filtered'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0) as u64;
        let groups = c
            .prepare_cached(
                "SELECT directive, blocked_origin, document_path, disposition, COUNT(*),
                        MIN(received_at), MAX(received_at), MAX(blocked_url)
                 FROM violations GROUP BY directive, blocked_origin, document_path, disposition
                 ORDER BY COUNT(*) DESC, blocked_origin LIMIT ?1",
            )
            .and_then(|mut st| {
                st.query_map(params![limit.min(i64::MAX as usize) as i64], |r| {
                    let at = |s: i64| UNIX_EPOCH + Duration::from_secs(s.max(0) as u64);
                    let mut g = Group::new(
                        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?),
                        at(r.get(5)?),
                        r.get(7)?,
                    );
                    g.count = r.get::<_, i64>(4)? as u64;
                    g.last_seen = at(r.get(6)?);
                    Ok(g)
                })?
                .collect::<rusqlite::Result<Vec<Group>>>()
            })
            .unwrap_or_default();
        Summary {
            total,
            filtered,
            groups,
        }
    }
}

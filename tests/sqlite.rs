//! The SQLite sink on real database files: every field stored, groups kept in the same
//! transaction, the noise counter, pruning, migration from the first schema, a newer schema or a
//! file that is not a database refused, a full queue answered 503 without losing what was
//! accepted, and a failed commit rolled back and answered 503; a request's user agent stored
//! once (and version 5's rows moved to that), the health a failing commit and a full queue
//! show, and the clean close that leaves no WAL.
#![cfg(feature = "sqlite")]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use connect_src::report::intake::{parse_reports, NormalizeOptions};
use connect_src::report::sqlite::Durability;
use connect_src::report::store::{
    Health, HourWindow, ReportSink, ReportStore, StoreError, Violation, ACTIVITY_HOURS,
};
use connect_src::report::{Collector, SqliteSink};
use rusqlite::Connection;
use tower::ServiceExt;

/// The collector's two routers on one app, as tests reach both sides through one router.
fn both(c: connect_src::report::Collector) -> axum::Router {
    c.report_router().merge(c.admin_router())
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let d =
            std::env::temp_dir().join(format!("connect-src-sqlite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    fn db(&self) -> PathBuf {
        self.0.join("reports.sqlite")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixture(name: &str) -> Vec<Violation> {
    let body = std::fs::read(format!(
        "{}/tests/fixtures/reports/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    parse_reports(&body, &NormalizeOptions::default())
        .unwrap()
        .violations
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A report-only violation of `blocked` received at `secs`.
fn violation(blocked: &str, secs: u64) -> Violation {
    let mut v = fixture("firefox-reports-api.json").remove(0);
    v.set_blocked_url(blocked.to_owned());
    v.received_at = at(secs);
    v
}

fn row_count(db: &Path) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM violations", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn every_field_is_stored_and_groups_add_up_across_commits() {
    let dir = TempDir::new("fields");
    let sink = SqliteSink::open(dir.db()).unwrap();
    assert_eq!(sink.durability(), Durability::PowerLoss);

    let chromium = fixture("chromium-reports-api.json").remove(0);
    sink.submit(vec![chromium.clone()]).await.unwrap();
    // Two in one batch (one transaction) and one in a later one: one group of three.
    sink.submit(vec![
        violation("https://cdn.example/a.js", 1_800_000_100),
        violation("https://cdn.example/b.js", 1_800_000_050),
    ])
    .await
    .unwrap();
    sink.submit(vec![violation("https://cdn.example/c.js", 1_800_000_200)])
        .await
        .unwrap();

    let c = Connection::open(dir.db()).unwrap();
    let row = c
        .query_row(
            "SELECT document_url, document_path, blocked_url, blocked_origin, directive,
                    disposition, status_code, source_file, line, col, user_agent,
                    original_policy, format
             FROM violations_with_user_agent ORDER BY id LIMIT 1",
            [],
            |r| {
                Ok((
                    (
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ),
                    (
                        r.get::<_, Option<i64>>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<i64>>(8)?,
                        r.get::<_, Option<i64>>(9)?,
                        r.get::<_, Option<String>>(10)?,
                        r.get::<_, Option<String>>(11)?,
                        r.get::<_, String>(12)?,
                    ),
                ))
            },
        )
        .unwrap();
    assert_eq!(
        row.0,
        (
            chromium.document_url.clone(),
            "/live".to_owned(),
            "wss://realtime.example/socket".to_owned(),
            "wss://realtime.example".to_owned(),
            "connect-src".to_owned(),
            "enforce".to_owned(),
        )
    );
    assert_eq!(
        row.1,
        (
            Some(200),
            Some("https://app.example/live.js".to_owned()),
            Some(3),
            Some(7),
            chromium.user_agent.clone(),
            Some("connect-src 'self'; report-to csp".to_owned()),
            chromium.format.as_str().to_owned(),
        )
    );

    let s = sink.summary(10).await.unwrap();
    assert_eq!(s.total, 4);
    assert_eq!(sink.count().await.unwrap(), 4);
    assert_eq!(s.groups.len(), 2);
    let cdn = &s.groups[0];
    assert_eq!(
        (cdn.blocked_origin.as_str(), cdn.count),
        ("https://cdn.example", 3),
        "most frequent first"
    );
    assert_eq!(cdn.first_seen, at(1_800_000_050), "earliest of the batch");
    assert_eq!(cdn.last_seen, at(1_800_000_200), "from the later commit");
    assert_eq!(
        cdn.sample, "https://cdn.example/a.js",
        "the first one stored"
    );
    assert_eq!(
        sink.summary(1).await.unwrap().groups.len(),
        1,
        "the limit caps groups"
    );
    assert_eq!(sink.summary(1).await.unwrap().total, 4, "never the total");
}

#[tokio::test]
async fn filtered_counts_are_kept_in_order_with_batches() {
    let dir = TempDir::new("filtered");
    let sink = SqliteSink::builder()
        .durability(Durability::ProcessCrash)
        .open(dir.db())
        .unwrap();
    sink.record_filtered(3);
    sink.record_filtered(4);
    // The writer takes jobs in order: once this batch is acknowledged, so are the counts.
    sink.submit(vec![violation("https://x.example/", 1_800_000_000)])
        .await
        .unwrap();
    let s = sink.summary(10).await.unwrap();
    assert_eq!((s.total, s.filtered), (1, 7));
    drop(sink);
    let again = SqliteSink::open(dir.db()).unwrap();
    assert_eq!(
        again.summary(10).await.unwrap().filtered,
        7,
        "kept in the file"
    );
}

/// The first schema (no `user_version`, an index for GROUP BY at read time) is migrated
/// when opened: the groups are built from the stored rows, and new reports add to them.
#[tokio::test]
async fn a_version_1_database_is_migrated() {
    let dir = TempDir::new("migrate");
    {
        let c = Connection::open(dir.db()).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL;
            CREATE TABLE violations (
                id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL,
                document_url TEXT NOT NULL, document_path TEXT NOT NULL,
                blocked_url TEXT NOT NULL, blocked_origin TEXT NOT NULL,
                directive TEXT NOT NULL, violated_directive TEXT, disposition TEXT NOT NULL,
                status_code INTEGER, source_file TEXT, line INTEGER, col INTEGER, sample TEXT,
                referrer TEXT, user_agent TEXT, original_policy TEXT, format TEXT NOT NULL);
            CREATE INDEX violations_group
                ON violations (directive, blocked_origin, document_path, disposition);
            CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT INTO counters VALUES ('filtered', 5);",
        )
        .unwrap();
        for (t, url, origin) in [
            (1_700_000_300, "https://a.example/1", "https://a.example"),
            (1_700_000_100, "https://a.example/2", "https://a.example"),
            (1_700_000_200, "https://b.example/", "https://b.example"),
        ] {
            c.execute(
                "INSERT INTO violations (received_at, document_url, document_path, blocked_url,
                    blocked_origin, directive, disposition, format)
                 VALUES (?1, 'https://app.example/p', '/p', ?2, ?3, 'connect-src', 'report',
                    'legacy')",
                rusqlite::params![t, url, origin],
            )
            .unwrap();
        }
    }

    let sink = SqliteSink::open(dir.db()).unwrap();
    let s = sink.summary(10).await.unwrap();
    assert_eq!((s.total, s.filtered), (3, 5));
    let counts: Vec<(&str, u64)> = s
        .groups
        .iter()
        .map(|g| (g.blocked_origin.as_str(), g.count))
        .collect();
    assert_eq!(counts, [("https://a.example", 2), ("https://b.example", 1)]);
    assert_eq!(s.groups[0].first_seen, at(1_700_000_100));
    assert_eq!(s.groups[0].last_seen, at(1_700_000_300));

    let mut v = violation("https://a.example/3", 1_700_000_400);
    v.set_document_url("https://app.example/p");
    v.disposition = connect_src::report::store::Disposition::Report;
    sink.submit(vec![v]).await.unwrap();
    let a = sink.summary(10).await.unwrap().groups.remove(0);
    assert_eq!((a.count, a.last_seen), (3, at(1_700_000_400)));

    let c = Connection::open(dir.db()).unwrap();
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 7);
    assert!(
        !has_index(&c, "violations_group"),
        "the old index is dropped"
    );
    assert!(has_index(&c, "violations_received_at"));
}

/// Version 2 (the `groups` table keyed without a class) is migrated when opened: every
/// stored row becomes `unverified` (it was never checked), and the groups are rebuilt from
/// the rows with the class in their key.
#[tokio::test]
async fn a_version_2_database_is_migrated() {
    let dir = TempDir::new("migrate2");
    {
        let c = Connection::open(dir.db()).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL;
            CREATE TABLE violations (
                id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL,
                document_url TEXT NOT NULL, document_path TEXT NOT NULL,
                blocked_url TEXT NOT NULL, blocked_origin TEXT NOT NULL,
                directive TEXT NOT NULL, violated_directive TEXT, disposition TEXT NOT NULL,
                status_code INTEGER, source_file TEXT, line INTEGER, col INTEGER, sample TEXT,
                referrer TEXT, user_agent TEXT, original_policy TEXT, format TEXT NOT NULL);
            CREATE TABLE groups (
                directive TEXT NOT NULL, blocked_origin TEXT NOT NULL,
                document_path TEXT NOT NULL, disposition TEXT NOT NULL, count INTEGER NOT NULL,
                first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, sample TEXT NOT NULL,
                PRIMARY KEY (directive, blocked_origin, document_path, disposition)
            ) WITHOUT ROWID;
            CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT INTO violations (received_at, document_url, document_path, blocked_url,
                blocked_origin, directive, disposition, format)
            VALUES (1700000100, 'https://app.example/p', '/p', 'https://a.example/1',
                'https://a.example', 'connect-src', 'report', 'legacy');
            INSERT INTO groups VALUES ('connect-src', 'https://a.example', '/p', 'report', 1,
                1700000100, 1700000100, 'https://a.example/1');
            PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let sink = SqliteSink::open(dir.db()).unwrap();
    let s = sink.summary(10).await.unwrap();
    assert_eq!(s.total, 1);
    assert_eq!(s.groups.len(), 1);
    assert_eq!(s.groups[0].count, 1);
    assert_eq!(
        s.groups[0].class,
        connect_src::report::store::Class::Unverified
    );
    let c = Connection::open(dir.db()).unwrap();
    let class: String = c
        .query_row("SELECT class FROM violations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(class, "unverified");
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 7);
    assert!(has_index(&c, "violations_received_at"));
}

fn has_index(c: &Connection, name: &str) -> bool {
    c.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        == 1
}

/// Version 3 only gains the index on `received_at` (for the activity read): its groups are
/// kept as they were, not rebuilt from the rows (here they count a row deleted by hand).
#[tokio::test]
async fn a_version_3_database_gains_the_received_at_index_and_keeps_its_groups() {
    let dir = TempDir::new("migrate3");
    {
        let c = Connection::open(dir.db()).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL;
            CREATE TABLE violations (
                id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL,
                document_url TEXT NOT NULL, document_path TEXT NOT NULL,
                blocked_url TEXT NOT NULL, blocked_origin TEXT NOT NULL,
                directive TEXT NOT NULL, violated_directive TEXT, disposition TEXT NOT NULL,
                status_code INTEGER, source_file TEXT, line INTEGER, col INTEGER, sample TEXT,
                referrer TEXT, user_agent TEXT, original_policy TEXT, format TEXT NOT NULL,
                class TEXT NOT NULL DEFAULT 'unverified');
            CREATE TABLE groups (
                directive TEXT NOT NULL, blocked_origin TEXT NOT NULL,
                document_path TEXT NOT NULL, disposition TEXT NOT NULL, count INTEGER NOT NULL,
                first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, sample TEXT NOT NULL,
                class TEXT NOT NULL,
                PRIMARY KEY (directive, blocked_origin, document_path, disposition, class)
            ) WITHOUT ROWID;
            CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT INTO violations (received_at, document_url, document_path, blocked_url,
                blocked_origin, directive, disposition, format, class)
            VALUES (1700000100, 'https://app.example/p', '/p', 'https://a.example/1',
                'https://a.example', 'connect-src', 'report', 'legacy', 'genuine');
            INSERT INTO groups VALUES ('connect-src', 'https://a.example', '/p', 'report', 2,
                1700000000, 1700000100, 'https://a.example/1', 'genuine');
            PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let sink = SqliteSink::open(dir.db()).unwrap();
    let s = sink.summary(10).await.unwrap();
    assert_eq!(s.groups.len(), 1);
    assert_eq!(
        (s.groups[0].count, s.groups[0].first_seen),
        (2, at(1_700_000_000)),
        "the groups are kept, not recounted from the one row"
    );
    let c = Connection::open(dir.db()).unwrap();
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 7);
    assert!(has_index(&c, "violations_received_at"));
    // The activity read uses it.
    let plan: Vec<String> = c
        .prepare("EXPLAIN QUERY PLAN SELECT COUNT(*) FROM violations WHERE received_at >= 1 AND received_at < 2")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter().any(|p| p.contains("violations_received_at")),
        "{plan:?}"
    );
    // Version 5: the group kept with reach 0 (its rows were never tagged), then counts the
    // networks of new reports; the inventory's table is there.
    assert_eq!(s.groups[0].reach, 0);
    let mut v = violation("https://a.example/2", 1_700_000_200);
    v.set_document_url("https://app.example/p");
    v.class = connect_src::report::store::Class::Genuine;
    v.disposition = connect_src::report::store::Disposition::Report;
    v.network = Some(connect_src::report::store::Network(7));
    let mut again = v.clone();
    again.network = Some(connect_src::report::store::Network(8));
    let mut same = v.clone();
    same.network = Some(connect_src::report::store::Network(7));
    sink.submit(vec![v, again]).await.unwrap();
    sink.submit(vec![same]).await.unwrap();
    let s = sink.summary(10).await.unwrap();
    let g = s
        .groups
        .iter()
        .find(|g| g.blocked_origin == "https://a.example" && g.count == 5)
        .unwrap_or_else(|| panic!("{s:?}"));
    assert_eq!(g.reach, 2, "two networks, one of them twice");
    let observations: i64 = c
        .query_row("SELECT count(*) FROM observations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(observations, 0);
}

/// Hourly counts are read from the rows by `received_at` (Unix hours, UTC): per asked-for
/// group and in all, hours and days apart, window edges exact.
#[tokio::test]
async fn activity_counts_rows_by_hour() {
    let dir = TempDir::new("activity");
    let sink = SqliteSink::open(dir.db()).unwrap();
    const H: u64 = 500_000; // 2027-01-15T08:00:00Z, in Unix hours
    let s = |hour: u64, second: u64| hour * 3600 + second;
    sink.submit(vec![
        violation("https://a.example/1", s(H, 0)),
        violation("https://a.example/2", s(H, 3599)),
        violation("https://a.example/3", s(H - 1, 1800)),
        violation("https://a.example/4", s(H - 50, 7)), // two days before
        violation("https://a.example/5", s(H - 168, 3599)), // just before the window
        violation("https://a.example/6", s(H + 1, 0)),  // just after
        violation("https://b.example/", s(H - 3, 0)),
    ])
    .await
    .unwrap();
    let summary = sink.summary(10).await.unwrap();
    let key = |origin: &str| {
        summary
            .groups
            .iter()
            .find(|g| g.blocked_origin == origin)
            .unwrap()
            .key()
    };
    let (a, b) = (key("https://a.example"), key("https://b.example"));
    let window = HourWindow::ending_at(at(s(H, 10)), ACTIVITY_HOURS);
    assert_eq!((window.first_hour(), window.last_hour()), (H - 167, H));

    let act = sink
        .activity(std::slice::from_ref(&a), window)
        .await
        .unwrap();
    assert_eq!(act.window(), Some(window));
    let mut want = vec![0u64; 168];
    (want[167], want[166], want[167 - 50]) = (2, 1, 1);
    assert_eq!(act.group(&a), Some(&want[..]));
    assert_eq!(act.group(&b), None, "not asked for");
    want[167 - 3] = 1; // b.example, in the total only
    assert_eq!(act.total(), &want[..]);

    let day = sink
        .activity(
            &[a.clone(), b.clone()],
            HourWindow::ending_at(at(s(H, 0)), 24),
        )
        .await
        .unwrap();
    let mut b_want = [0u64; 24];
    b_want[20] = 1;
    assert_eq!(day.group(&b), Some(&b_want[..]));
    assert_eq!(day.group(&a).unwrap().iter().sum::<u64>(), 3);
    assert_eq!(day.total().iter().sum::<u64>(), 4);

    // No keys: the total alone; a window with no rows: zeros, not an error.
    let none = sink.activity(&[], window).await.unwrap();
    assert_eq!(
        (none.groups().count(), none.total().iter().sum::<u64>()),
        (0, 5)
    );
    let empty = sink
        .activity(
            std::slice::from_ref(&a),
            HourWindow::ending_at(at(1_000), 24),
        )
        .await
        .unwrap();
    assert!(empty.group(&a).unwrap().iter().all(|n| *n == 0));
}

#[tokio::test]
async fn prune_deletes_old_reports_and_recounts_the_groups() {
    let dir = TempDir::new("prune");
    let sink = SqliteSink::open(dir.db()).unwrap();
    sink.submit(vec![
        violation("https://a.example/1", 1_800_000_100),
        violation("https://a.example/2", 1_800_000_300),
        violation("https://b.example/", 1_800_000_200),
    ])
    .await
    .unwrap();
    sink.record_filtered(2);

    assert_eq!(sink.prune_before(at(1_800_000_250)).await.unwrap(), 2);
    let s = sink.summary(10).await.unwrap();
    assert_eq!(
        (s.total, s.filtered),
        (1, 2),
        "the noise count is not pruned"
    );
    assert_eq!(s.groups.len(), 1, "b.example had only old reports");
    let a = &s.groups[0];
    assert_eq!(
        (
            a.blocked_origin.as_str(),
            a.count,
            a.first_seen,
            a.last_seen
        ),
        ("https://a.example", 1, at(1_800_000_300), at(1_800_000_300))
    );
    assert_eq!(sink.prune_before(at(1_800_000_250)).await.unwrap(), 0);

    sink.submit(vec![violation("https://a.example/3", 1_800_000_400)])
        .await
        .unwrap();
    assert_eq!(
        sink.summary(10).await.unwrap().groups[0].count,
        2,
        "counting goes on"
    );
    assert_eq!(row_count(&dir.db()), 2);
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let dir = TempDir::new("newer");
    {
        let c = Connection::open(dir.db()).unwrap();
        c.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 9;")
            .unwrap();
    }
    let before = std::fs::read(dir.db()).unwrap();
    let err = SqliteSink::open(dir.db()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NewerSchema {
                found: 9,
                supported: 7
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("schema version 9"), "{err}");
    assert!(
        std::fs::read(dir.db()).unwrap() == before,
        "the file was changed"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_a_clear_error() {
    let dir = TempDir::new("notdb");
    std::fs::write(
        dir.db(),
        b"this is not a database, it is a text file of some length",
    )
    .unwrap();
    let err = SqliteSink::open(dir.db()).unwrap_err();
    // SQLite's own error is the source, not text: a caller can tell what failed.
    let StoreError::Database(cause) = &err else {
        panic!("{err:?}")
    };
    let sqlite = cause
        .downcast_ref::<rusqlite::Error>()
        .expect("rusqlite::Error");
    assert_eq!(
        sqlite.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase),
        "{sqlite:?}"
    );
    assert!(err.to_string().contains("not a database"), "{err}");
}

const EVIL: &str = r#"{"csp-report":{"document-uri":"https://app.example/",
    "effective-directive":"connect-src","blocked-uri":"https://evil.example/x",
    "disposition":"enforce"}}"#;

async fn post(app: &Router, body: &'static str) -> StatusCode {
    app.clone()
        .oneshot(
            Request::post("/csp-reports")
                .header(header::CONTENT_TYPE, "application/csp-report")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

/// Another process holds the write lock: the writer waits (busy timeout), the queue fills,
/// submits past it are refused at once (the collector answers 503), and every batch that
/// was taken is stored once the lock goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_a_503_and_what_was_accepted_is_stored() {
    let dir = TempDir::new("full");
    let sink = SqliteSink::builder().queue(2).open(dir.db()).unwrap();
    let lock = Connection::open(dir.db()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();

    // The writer holds one batch (waiting for the lock), the queue two more: a fourth
    // submit at the latest is refused, without waiting.
    let mut accepted = Vec::new();
    let mut refused = false;
    for i in 0..4 {
        let s = sink.clone();
        let mut f = Box::pin(async move {
            s.submit(vec![violation(&format!("https://q{i}.example/"), 1)])
                .await
        });
        match tokio::time::timeout(Duration::from_millis(200), &mut f).await {
            Ok(Err(StoreError::Full)) => {
                refused = true;
                break;
            }
            Ok(other) => panic!("the lock is held, yet the submit finished: {other:?}"),
            Err(_) => accepted.push(tokio::spawn(f)),
        }
    }
    assert!(refused, "no submit was refused with a queue of 2");
    assert!(
        matches!(sink.health(), Health::Full { queued: 2 }),
        "{:?}",
        sink.health()
    );
    assert!(accepted.len() >= 2, "{} accepted", accepted.len());
    let app: Router = both(Collector::builder().store(sink.clone()).build());
    assert_eq!(post(&app, EVIL).await, StatusCode::SERVICE_UNAVAILABLE);

    lock.execute_batch("COMMIT").unwrap();
    let n = accepted.len() as i64;
    for a in accepted {
        a.await.unwrap().unwrap();
    }
    assert_eq!(row_count(&dir.db()), n);
    assert_eq!(
        post(&app, EVIL).await,
        StatusCode::NO_CONTENT,
        "accepting again"
    );
    assert_eq!(sink.summary(100).await.unwrap().total, n as u64 + 1);
}

/// A commit that fails halfway (here a trigger of the user's refuses one group after the
/// rows went in) stores nothing of its transaction, answers 503 with the reason, and the
/// writer goes on with the next batch.
#[tokio::test]
async fn a_failed_commit_is_rolled_back_and_answered_503() {
    let dir = TempDir::new("failed");
    let sink = SqliteSink::open(dir.db()).unwrap();
    Connection::open(dir.db())
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON groups
             WHEN NEW.blocked_origin = 'https://boom.example'
             BEGIN SELECT RAISE(ABORT, 'boom refused'); END;",
        )
        .unwrap();
    let err = sink
        .submit(vec![
            violation("https://fine.example/", 1),
            violation("https://boom.example/", 1),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Database(_)) && err.to_string().contains("boom refused"),
        "{err:?}"
    );
    assert_eq!(row_count(&dir.db()), 0, "the rows of the failed commit");
    assert_eq!(sink.summary(10).await.unwrap(), Default::default());

    let app: Router = both(Collector::builder().store(sink.clone()).build());
    let boom = r#"{"csp-report":{"document-uri":"https://app.example/","effective-directive":
        "connect-src","blocked-uri":"https://boom.example/x","disposition":"enforce"}}"#;
    assert_eq!(post(&app, boom).await, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(post(&app, EVIL).await, StatusCode::NO_CONTENT);
    let s = sink.summary(10).await.unwrap();
    assert_eq!(s.total, 1);
    assert_eq!(s.groups[0].blocked_origin, "https://evil.example");
}

/// A user agent of `len` bytes (printable, varied: what a hostile client may send).
fn long_user_agent(len: usize, seed: u64) -> String {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from(b'!' + ((x >> 33) % 94) as u8)
        })
        .collect()
}

/// A request's up to 100 reports share its user agent (up to 2 KB): it is stored once, in
/// `user_agents`, each row holding its key; the view gives the text back beside every
/// column; a prune forgets the user agents no row refers to any more.
#[tokio::test]
async fn a_requests_user_agent_is_stored_once() {
    let dir = TempDir::new("user-agent");
    let sink = SqliteSink::open(dir.db()).unwrap();
    let (agent, other) = (long_user_agent(2048, 1), long_user_agent(2048, 2));
    let batch = |n: usize, agent: &str, secs: u64| -> Vec<Violation> {
        (0..n)
            .map(|i| {
                let mut v = violation(&format!("https://r{i}.example/"), secs);
                v.user_agent = Some(agent.to_owned());
                v
            })
            .collect()
    };
    sink.submit(batch(100, &agent, 1_800_000_000))
        .await
        .unwrap();
    sink.submit(batch(100, &agent, 1_800_000_100))
        .await
        .unwrap();
    sink.submit(batch(1, &other, 1_800_000_200)).await.unwrap();
    let c = Connection::open(dir.db()).unwrap();
    let (agents, bytes): (i64, i64) = c
        .query_row(
            "SELECT count(*), sum(length(text)) FROM user_agents",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((agents, bytes), (2, 4096), "each text once");
    let keys: i64 = c
        .query_row(
            "SELECT count(DISTINCT user_agent_id) FROM violations",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(keys, 2);
    let texts: Vec<(String, i64)> = c
        .prepare(
            "SELECT user_agent, count(*) FROM violations_with_user_agent GROUP BY user_agent \
             ORDER BY count(*) DESC",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(texts, [(agent.clone(), 200), (other.clone(), 1)]);

    // The first 200 reports go: so does their user agent; the other stays.
    assert_eq!(sink.prune_before(at(1_800_000_150)).await.unwrap(), 200);
    let left: Vec<String> = c
        .prepare("SELECT text FROM user_agents")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(left, [other]);
}

/// Version 5 kept each report's user agent text: opened, every distinct text goes to
/// `user_agents` once under the key new writes use, the rows hold the key, the column goes,
/// and the groups are kept as they were.
#[tokio::test]
async fn a_version_5_database_moves_its_user_agents() {
    let dir = TempDir::new("migrate5");
    {
        let c = Connection::open(dir.db()).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL;
            CREATE TABLE violations (
                id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL,
                document_url TEXT NOT NULL, document_path TEXT NOT NULL,
                blocked_url TEXT NOT NULL, blocked_origin TEXT NOT NULL,
                directive TEXT NOT NULL, violated_directive TEXT, disposition TEXT NOT NULL,
                status_code INTEGER, source_file TEXT, line INTEGER, col INTEGER, sample TEXT,
                referrer TEXT, user_agent TEXT, original_policy TEXT, format TEXT NOT NULL,
                class TEXT NOT NULL DEFAULT 'unverified', network INTEGER);
            CREATE INDEX violations_received_at ON violations (received_at);
            CREATE TABLE groups (
                directive TEXT NOT NULL, blocked_origin TEXT NOT NULL,
                document_path TEXT NOT NULL, disposition TEXT NOT NULL, count INTEGER NOT NULL,
                first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, sample TEXT NOT NULL,
                class TEXT NOT NULL, reach INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (directive, blocked_origin, document_path, disposition, class)
            ) WITHOUT ROWID;
            CREATE TABLE group_networks (
                directive TEXT NOT NULL, blocked_origin TEXT NOT NULL,
                document_path TEXT NOT NULL, disposition TEXT NOT NULL, class TEXT NOT NULL,
                network INTEGER NOT NULL,
                PRIMARY KEY (directive, blocked_origin, document_path, disposition, class, network)
            ) WITHOUT ROWID;
            CREATE TABLE observations (
                id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, destination TEXT NOT NULL,
                document_origin TEXT, document_path TEXT NOT NULL, page_load INTEGER NOT NULL,
                sample_rate REAL NOT NULL, engine TEXT, network INTEGER, class TEXT NOT NULL);
            CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT INTO groups VALUES ('connect-src', 'https://a.example', '/p', 'report', 7,
                1700000000, 1700000300, 'https://a.example/1', 'genuine', 0);
            PRAGMA user_version = 5;",
        )
        .unwrap();
        for (n, agent) in [
            Some("Mozilla/5.0 Firefox/153.0"),
            Some("Mozilla/5.0 Firefox/153.0"),
            Some("Mozilla/5.0 Chrome/156.0"),
            None,
        ]
        .into_iter()
        .enumerate()
        {
            c.execute(
                "INSERT INTO violations (received_at, document_url, document_path, blocked_url,
                    blocked_origin, directive, disposition, format, class, user_agent)
                 VALUES (?1, 'https://app.example/p', '/p', ?2, 'https://a.example',
                    'connect-src', 'report', 'legacy', 'genuine', ?3)",
                rusqlite::params![
                    1_700_000_000 + n as i64,
                    format!("https://a.example/{n}"),
                    agent
                ],
            )
            .unwrap();
        }
    }
    let sink = SqliteSink::open(dir.db()).unwrap();
    let s = sink.summary(10).await.unwrap();
    assert_eq!(s.groups[0].count, 7, "the groups are kept, not recounted");
    let c = Connection::open(dir.db()).unwrap();
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 7);
    let columns: Vec<String> = c
        .prepare("SELECT name FROM pragma_table_info('violations')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(columns.contains(&"user_agent_id".to_owned()), "{columns:?}");
    assert!(!columns.contains(&"user_agent".to_owned()), "{columns:?}");
    let agents: i64 = c
        .query_row("SELECT count(*) FROM user_agents", [], |r| r.get(0))
        .unwrap();
    assert_eq!(agents, 2);
    let rows: Vec<(String, Option<String>)> = c
        .prepare("SELECT blocked_url, user_agent FROM violations_with_user_agent ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let firefox = Some("Mozilla/5.0 Firefox/153.0".to_owned());
    assert_eq!(
        rows,
        [
            ("https://a.example/0".to_owned(), firefox.clone()),
            ("https://a.example/1".to_owned(), firefox.clone()),
            (
                "https://a.example/2".to_owned(),
                Some("Mozilla/5.0 Chrome/156.0".to_owned())
            ),
            ("https://a.example/3".to_owned(), None),
        ]
    );
    // A new report with a migrated text reuses its key: still two user agents.
    let mut v = violation("https://a.example/9", 1_700_000_500);
    v.user_agent = firefox.clone();
    sink.submit(vec![v]).await.unwrap();
    let (agents, keys): (i64, i64) = c
        .query_row(
            "SELECT (SELECT count(*) FROM user_agents), \
             (SELECT count(DISTINCT user_agent_id) FROM violations \
              WHERE user_agent_id IS NOT NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((agents, keys), (2, 2));
}

/// The WAL file beside the database: `None` when absent, else its length.
fn wal_len(db: &Path) -> Option<u64> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).ok().map(|m| m.len())
}

/// `close` commits what was queued before it, checkpoints the WAL into the file and closes
/// both connections: no `-wal` file is left, the reports are in the database file, and the
/// store (every clone) answers `Closed` afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_leaves_no_wal_and_keeps_every_report() {
    let dir = TempDir::new("close");
    let sink = SqliteSink::open(dir.db()).unwrap();
    let clone = sink.clone();
    let mut queued = Vec::new();
    for i in 0..50 {
        let s = sink.clone();
        queued.push(tokio::spawn(async move {
            s.submit(vec![violation(
                &format!("https://c{i}.example/"),
                1_800_000_000,
            )])
            .await
        }));
    }
    for q in queued {
        q.await.unwrap().unwrap();
    }
    assert!(
        wal_len(&dir.db()).is_some_and(|n| n > 0),
        "WAL mode writes a WAL"
    );
    sink.close().await.unwrap();
    assert!(
        wal_len(&dir.db()).is_none_or(|n| n == 0),
        "{:?}",
        wal_len(&dir.db())
    );
    assert!(matches!(
        clone
            .submit(vec![violation("https://late.example/", 1)])
            .await,
        Err(StoreError::Closed(_))
    ));
    assert!(matches!(
        clone.summary(10).await,
        Err(StoreError::Closed(_))
    ));
    assert!(matches!(sink.close().await, Err(StoreError::Closed(_))));
    // The reports are in the database file itself, read without any WAL.
    assert_eq!(row_count(&dir.db()), 50);
    let again = SqliteSink::open(dir.db()).unwrap();
    assert_eq!(again.summary(100).await.unwrap().total, 50);
}

/// Another process holds the write lock past the busy timeout: the commit fails, the
/// health says so (with SQLite's error) from then on; once the lock goes, the store's own
/// probe (an empty transaction, while no reports come) makes it healthy again without any
/// report, and reports are taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_commits_and_recovers_without_reports() {
    let dir = TempDir::new("health");
    let sink = SqliteSink::open(dir.db()).unwrap();
    assert!(sink.health().is_ok());
    let lock = Connection::open(dir.db()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = sink
        .submit(vec![violation("https://locked.example/", 1)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    let Health::Failing { error, since, last } = sink.health() else {
        panic!("{:?}", sink.health())
    };
    assert!(error.to_string().contains("locked"), "{error}");
    assert!(since <= last);
    lock.execute_batch("COMMIT").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !sink.health().is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "never healthy again: {:?}",
            sink.health()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(row_count(&dir.db()), 0, "the probe wrote nothing");
    sink.submit(vec![violation("https://after.example/", 1)])
        .await
        .unwrap();
    assert_eq!(row_count(&dir.db()), 1);
}

//! Reading the SQLite sink back: `cargo bench --features sqlite --bench sqlite`.
//!
//! The summary (what the dashboard, `/summary` and `connect-src suggest` read) of a database
//! holding 100,000 reports in 1,000 groups, side by side in one run:
//! - this crate's `SqliteSink::summary(500)`, which reads the `groups` table kept in the
//!   same transaction as the rows;
//! - the query a user would write over the raw rows (and this crate's first version ran):
//!   `GROUP BY` over `violations`, with an index on the four grouped columns.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use connect_src::report::intake::{parse_reports, NormalizeOptions};
use connect_src::report::sqlite::Durability;
use connect_src::report::store::{ReportSink, ReportStore};
use connect_src::report::SqliteSink;
use criterion::{criterion_group, criterion_main, Criterion};
use rusqlite::Connection;

const REPORTS: usize = 100_000;
const GROUPS: usize = 1_000;

const GROUP_BY: &str = "
SELECT directive, blocked_origin, document_path, disposition, COUNT(*), MIN(received_at),
       MAX(received_at), MAX(blocked_url)
FROM violations GROUP BY directive, blocked_origin, document_path, disposition
ORDER BY COUNT(*) DESC, blocked_origin LIMIT 500";

fn summary(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("connect-src-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("reports.sqlite");
    let sink = SqliteSink::builder()
        .durability(Durability::ProcessCrash)
        .open(&db)
        .unwrap();

    let body = std::fs::read(format!(
        "{}/tests/fixtures/reports/chromium-legacy-captured.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let template = parse_reports(&body, &NormalizeOptions::default())
        .unwrap()
        .violations
        .remove(0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for chunk in 0..REPORTS / 1_000 {
        let batch = (0..1_000)
            .map(|i| {
                let n = chunk * 1_000 + i;
                let mut v = template.clone();
                // Unique URLs, skewed over the groups like real traffic: ten origins
                // take more than half of the reports.
                let g = if n % 2 == 0 { n % 10 } else { n % GROUPS };
                v.set_blocked_url(format!("https://t{g}.tracker.example/p/{n}"));
                v.received_at = UNIX_EPOCH + Duration::from_secs(1_800_000_000 + n as u64);
                v
            })
            .collect();
        rt.block_on(sink.submit(batch)).unwrap();
    }
    let ours = rt.block_on(sink.summary(500)).unwrap();
    assert_eq!(ours.total, REPORTS as u64);

    // The same rows, with the index the query over them needs.
    let raw = dir.join("raw.sqlite");
    Connection::open(&db)
        .unwrap()
        .execute("VACUUM INTO ?1", [raw.to_str().unwrap()])
        .unwrap();
    let raw = Connection::open(&raw).unwrap();
    raw.execute_batch(
        "CREATE INDEX violations_group
            ON violations (directive, blocked_origin, document_path, disposition);",
    )
    .unwrap();
    let by_hand = |conn: &Connection| {
        let mut st = conn.prepare_cached(GROUP_BY).unwrap();
        st.query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    };
    let expected = by_hand(&raw);
    let got: Vec<(String, i64)> = ours
        .groups
        .iter()
        .map(|g| (g.blocked_origin.to_string(), g.count as i64))
        .collect();
    assert_eq!(got, expected, "the same answer both ways");

    let mut g = c.benchmark_group("summary of 100,000 reports in 1,000 groups");
    g.sample_size(20);
    g.bench_function("GROUP BY over the rows (indexed)", |b| {
        b.iter(|| black_box(by_hand(&raw)))
    });
    g.bench_function("connect-src summary (groups table)", |b| {
        b.iter(|| black_box(rt.block_on(sink.summary(500)).unwrap()))
    });
    g.finish();
    drop(sink);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, summary);
criterion_main!(benches);

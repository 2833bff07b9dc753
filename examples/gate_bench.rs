//! The readiness gate over a million stored reports and observations: fills a store (SQLite
//! file, or PostgreSQL with `CONNECT_SRC_PG_URL`) with 500,000 violations and 500,000
//! observations spread over 7 days, from 2,000 client networks and 200 destinations, then
//! times `report::promote::readiness_in` over the 7 days beside the floor a user would
//! write first: `SELECT COUNT(*)` over the violations (every row read once, nothing judged).
//! Run by `bash bench/gate.sh`.

use std::time::{Duration, Instant, SystemTime};

use connect_src::learn::Gate;
use connect_src::report::promote::readiness_in;
use connect_src::report::store::{
    Class, Disposition, Network, Observation, PageLoad, ReportStore, Violation,
};
use connect_src::report::{PostgresSink, SqliteSink};
use connect_src::source::Origin;
use connect_src::ConnectSrc;

const ROWS: u64 = 500_000;

fn violation(i: u64, now: SystemTime) -> Violation {
    let body = format!(
        r#"{{"csp-report":{{"document-uri":"https://shop.example/p/{}","effective-directive":"connect-src","blocked-uri":"https://d{}.example/x","disposition":"report","original-policy":"connect-src 'self'"}}}}"#,
        i % 50,
        i % 200
    );
    let mut v = connect_src::report::intake::parse_reports(
        body.as_bytes(),
        &connect_src::report::intake::NormalizeOptions::default(),
    )
    .expect("a report")
    .violations
    .remove(0);
    v.disposition = Disposition::Report;
    v.class = if i.is_multiple_of(10) {
        Class::Foreign
    } else {
        Class::Genuine
    };
    v.network = Some(Network(i % 2000));
    v.received_at = now - Duration::from_secs(i * 7 * 24 * 3600 / ROWS);
    v
}

fn observation(i: u64, now: SystemTime) -> Observation {
    let d = Origin::of_url(&format!("https://d{}.example", i % 200)).unwrap();
    let mut o = Observation::new(d, PageLoad(i / 4), 0.01);
    o.document_origin = Origin::of_url("https://shop.example");
    o.network = Some(Network(i % 2000));
    o.class = Class::Genuine;
    o.received_at = now - Duration::from_secs(i * 7 * 24 * 3600 / ROWS);
    o
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pg = std::env::var("CONNECT_SRC_PG_URL").ok();
    let (sqlite, postgres) = match &pg {
        Some(url) => (None, Some(PostgresSink::open(url)?)),
        None => {
            let path =
                std::env::temp_dir().join(format!("gate-bench-{}.sqlite", std::process::id()));
            let _ = std::fs::remove_file(&path);
            (Some(SqliteSink::open(&path)?), None)
        }
    };
    let store: &dyn ReportStore = match (&sqlite, &postgres) {
        (Some(s), _) => s,
        (_, Some(p)) => p,
        _ => unreachable!(),
    };
    let now = SystemTime::now();
    let fill = Instant::now();
    for start in (0..ROWS).step_by(1000) {
        let v: Vec<Violation> = (start..start + 1000).map(|i| violation(i, now)).collect();
        let o: Vec<Observation> = (start..start + 1000).map(|i| observation(i, now)).collect();
        store.submit(v).await?;
        store.observe(o).await?;
    }
    eprintln!("filled {} rows in {:.1?}", 2 * ROWS, fill.elapsed());
    let candidate: ConnectSrc = "'self' https://d1.example https://d2.example".parse()?;
    let since = now - Duration::from_secs(7 * 24 * 3600);
    let gate = Gate::default();
    let mut times = Vec::new();
    let mut floor = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let r = readiness_in(store, &candidate, &gate, since, SystemTime::now()).await?;
        times.push(t.elapsed().as_secs_f64());
        assert!(
            !r.ready && r.would_block.len() > 100,
            "the gate judged the rows"
        );
        let t = Instant::now();
        let n = match (&sqlite, &postgres) {
            (Some(s), _) => s.count().await?,
            (_, Some(p)) => p.count().await?,
            _ => 0,
        };
        assert_eq!(n, ROWS);
        floor.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    floor.sort_by(f64::total_cmp);
    println!(
        "{}: readiness_in over {} rows (7 days): median {:.2} s; COUNT(*) of the {} violations: {:.3} s; ratio {:.1}",
        if pg.is_some() { "postgres" } else { "sqlite" },
        2 * ROWS,
        times[1],
        ROWS,
        floor[1],
        times[1] / floor[1]
    );
    Ok(())
}

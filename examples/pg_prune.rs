//! Run with: `cargo run --release --features postgres --example pg_prune -- <url> <rows>
//! <days> <keep-days>`; driven by `bench/pg_prune.sh`.
//!
//! What `PostgresSink::prune_before` costs on a store of `rows` reports spread evenly over
//! the last `days` days (100 summary groups, 1,000 client networks): the sink opens the
//! database (making its schema), takes one report for each of those days as a collector
//! running all that time would have (with partitions, the writer makes each day's), then
//! the rows are written with one `INSERT … SELECT generate_series` (the same SQL for every
//! schema this bench measures, so an older revision can run it too), the summary counted
//! from them, and the table vacuumed. Then two prunes, timed: to `keep-days` ago (the first
//! run of `--retain`), and one hour later (each later hourly run). Prints one line each:
//! `prune <label> deleted <n> of <m> in <ms> ms`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use connect_src::report::intake::{parse_reports, NormalizeOptions};
use connect_src::report::store::ReportSink;
use connect_src::report::PostgresSink;

const DAY: u64 = 86_400;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: pg_prune <url> <rows> <days> <keep-days>";
    let url = args.next().ok_or(usage)?;
    let rows: i64 = args.next().as_deref().unwrap_or("1000000").parse()?;
    let days: u64 = args.next().as_deref().unwrap_or("30").parse()?;
    let keep: u64 = args.next().as_deref().unwrap_or("15").parse()?;
    let u = url.clone();
    let sink = tokio::task::spawn_blocking(move || PostgresSink::open(&u)).await??;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let today = now / DAY;
    let first = today + 1 - days;
    for day in first..=today {
        let body = format!(
            r#"{{"csp-report":{{"document-uri":"https://app.example/p","blocked-uri":"https://cdn0.example/day{day}","effective-directive":"connect-src","disposition":"report"}}}}"#
        );
        let mut v = parse_reports(body.as_bytes(), &NormalizeOptions::default())?.violations;
        v[0].received_at = UNIX_EPOCH + Duration::from_secs(day * DAY + 1);
        sink.submit(v).await?;
    }

    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let start = (first * DAY) as i64;
    let span = (now - first * DAY) as i64;
    let filled = Instant::now();
    client
        .execute(
            "INSERT INTO violations (received_at, document_url, document_path, blocked_url, \
             blocked_origin, directive, disposition, format, class, network) \
             SELECT $1::bigint + g * $2::bigint / $3::bigint, 'https://app.example/p', '/p', \
             'https://cdn' || (g % 100) || '.example/' || g, 'https://cdn' || (g % 100) || \
             '.example', 'connect-src', 'report', 'reporting-api', 'unverified', g % 1000 \
             FROM generate_series(0::bigint, $3::bigint - 1) g",
            &[&start, &span, &rows],
        )
        .await?;
    client
        .batch_execute(
            "DELETE FROM groups; DELETE FROM group_networks;
             INSERT INTO groups (directive, blocked_origin, document_path, disposition, count,
                 first_seen, last_seen, sample, class, reach)
             SELECT directive, blocked_origin, document_path, disposition, count(*),
                 min(received_at), max(received_at), max(blocked_url), class,
                 count(DISTINCT network)
             FROM violations GROUP BY directive, blocked_origin, document_path, disposition,
                 class;
             INSERT INTO group_networks SELECT DISTINCT directive, blocked_origin,
                 document_path, disposition, class, network FROM violations
                 WHERE network IS NOT NULL;",
        )
        .await?;
    // Each alone: neither runs inside a transaction block.
    client.batch_execute("VACUUM ANALYZE").await?;
    client.batch_execute("CHECKPOINT").await?;
    let total = count(&client).await?;
    println!(
        "filled {total} rows over {days} days in {} ms",
        filled.elapsed().as_millis()
    );

    let cut = now - keep * DAY;
    for (label, at) in [("first", cut), ("hour-later", cut + 3600)] {
        let before = count(&client).await?;
        let timed = Instant::now();
        let deleted = sink
            .prune_before(UNIX_EPOCH + Duration::from_secs(at))
            .await?;
        let ms = timed.elapsed().as_secs_f64() * 1000.0;
        println!("prune {label} deleted {deleted} of {before} in {ms:.0} ms");
        client.batch_execute("CHECKPOINT").await?;
    }
    Ok(())
}

async fn count(client: &tokio_postgres::Client) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one("SELECT count(*) FROM violations", &[])
        .await?
        .get(0))
}

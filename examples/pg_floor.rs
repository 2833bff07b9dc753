//! Run with: `cargo run --release --features postgres --example pg_floor -- <url> <seconds>
//! <rows-per-commit> <connections>`; driven by `bench/load.sh`.
//!
//! The floor for storing reports in PostgreSQL: a bare loop that writes the rows
//! `PostgresSink` writes (the bench's report, a unique blocked URL each, so one group per
//! row), with the same statements (`unnest` of arrays into `violations`, the `groups`
//! upsert), in transactions of the same size, on one connection as the sink uses (bench/load.sh
//! passes 1) — and nothing else: no HTTP, no parsing, no queue. Prints
//! `rows/s <n> commits <n>`. The collector's reports/s against this number is what the sink
//! costs on top of the database.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use connect_src::report::PostgresSink;

const INSERT: &str = "INSERT INTO violations (received_at, document_url, document_path, \
    blocked_url, blocked_origin, directive, violated_directive, disposition, status_code, \
    source_file, line, col, sample, referrer, user_agent_id, original_policy, format, class) \
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
    $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::bigint[], \
    $12::bigint[], $13::text[], $14::text[], $15::bigint[], $16::text[], $17::text[], \
    $18::text[])";

const UPSERT: &str = "INSERT INTO groups (directive, blocked_origin, document_path, \
    disposition, count, first_seen, last_seen, sample, class) SELECT * FROM unnest($1::text[], \
    $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], \
    $9::text[]) \
    ON CONFLICT (directive, blocked_origin, document_path, disposition, class) DO UPDATE SET \
    count = groups.count + excluded.count, \
    first_seen = LEAST(groups.first_seen, excluded.first_seen), \
    last_seen = GREATEST(groups.last_seen, excluded.last_seen)";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: pg_floor <url> <seconds> <rows-per-commit> <connections>")?;
    let secs: u64 = args.next().as_deref().unwrap_or("8").parse()?;
    let batch: usize = args
        .next()
        .as_deref()
        .unwrap_or("1")
        .parse::<usize>()?
        .max(1);
    let conns: usize = args
        .next()
        .as_deref()
        .unwrap_or("2")
        .parse::<usize>()?
        .max(1);
    // The schema, as the sink makes it.
    let u = url.clone();
    tokio::task::spawn_blocking(move || PostgresSink::open(&u).map(drop)).await??;

    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(conn);
            let insert = client.prepare(INSERT).await?;
            let upsert = client.prepare(UPSERT).await?;
            let (mut rows, mut commits, mut n) = (0u64, 0u64, 0u64);
            while Instant::now() < until {
                let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
                let ids: Vec<String> = (0..batch)
                    .map(|_| {
                        n += 1;
                        format!("https://u{c}x{n}.tracker.example")
                    })
                    .collect();
                let blocked: Vec<String> = ids.iter().map(|o| format!("{o}/p")).collect();
                let times = vec![now; batch];
                let text = |s: &str| vec![s.to_owned(); batch];
                let none: Vec<Option<String>> = vec![None; batch];
                let some = |s: &str| vec![Some(s.to_owned()); batch];
                // Pipelined as the sink does it: BEGIN, the two statements, COMMIT.
                let (c, i, u) = (&client, &insert, &upsert);
                let blocked_text = text("https://app.example/page");
                let (path, dir, disp, fmt) = (
                    text("/page"),
                    text("connect-src"),
                    text("enforce"),
                    text("csp-report"),
                );
                let (violated, status, lines) = (
                    some("connect-src"),
                    vec![Some(200i64); batch],
                    vec![None::<i64>; batch],
                );
                let (empty, policy, ones) = (
                    some(""),
                    some("connect-src 'self'; report-uri /csp-reports"),
                    vec![1i64; batch],
                );
                let class = text("unverified"); // no served policies named, as in the bench
                let row_params: [&(dyn tokio_postgres::types::ToSql + Sync); 18] = [
                    &times,
                    &blocked_text,
                    &path,
                    &blocked,
                    &ids,
                    &dir,
                    &violated,
                    &disp,
                    &status,
                    &none,
                    &lines,
                    &lines,
                    &empty,
                    &empty,
                    &lines,
                    &policy,
                    &fmt,
                    &class,
                ];
                let group_params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] = [
                    &dir, &ids, &path, &disp, &ones, &times, &times, &blocked, &class,
                ];
                tokio::try_join!(
                    c.batch_execute("BEGIN"),
                    c.execute(i, &row_params),
                    c.execute(u, &group_params),
                    c.batch_execute("COMMIT"),
                )?;
                rows += batch as u64;
                commits += 1;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((rows, commits))
        }));
    }
    let (mut rows, mut commits) = (0, 0);
    for t in tasks {
        let (r, c) = t
            .await?
            .map_err(|e| match e.downcast_ref::<tokio_postgres::Error>() {
                Some(pg) => match pg.as_db_error() {
                    Some(db) => format!("PostgreSQL: {} ({})", db.message(), db.code().code()),
                    None => pg.to_string(),
                },
                None => e.to_string(),
            })?;
        rows += r;
        commits += c;
    }
    println!("rows/s {:.0} commits {commits}", rows as f64 / secs as f64);
    Ok(())
}

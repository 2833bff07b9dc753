//! `violations` and `observations` are partitioned by `received_at` (Unix seconds) in daily
//! ranges (UTC), each with a default partition that takes any row no range holds, so no
//! report is ever refused for its date. Partitions are made ahead of need (today and the
//! next two days) when the store opens and when a commit brings a day no partition holds
//! yet; retention drops whole partitions instead of deleting their rows.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_postgres::GenericClient;

use deadpool_postgres::Object;

use crate::report::store::StoreError;

/// One day, in seconds.
pub(super) const DAY: i64 = 86_400;

/// Days after today whose partitions are kept ready.
const AHEAD: i64 = 2;

/// The partitioned tables.
pub(super) const TABLES: [&str; 2] = ["violations", "observations"];

/// Arbitrary and fixed: the advisory lock every connect-src process takes to make
/// partitions, so two never make the same one.
const PARTITION_LOCK: i64 = 0x636f_6e6e_6563_7474; // "connectt"

/// After a failure to make partitions, how long commits go on without trying again (rows
/// of days without a partition go to the default partition meanwhile).
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// One partition of a table: its name and `[from, to)` in Unix seconds, or `None` for the
/// default partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Partition {
    pub(super) name: String,
    pub(super) range: Option<(i64, i64)>,
}

/// The days each table has a partition for, as far as this process knows (made by it or
/// found), and when making them last failed.
#[derive(Debug, Default)]
pub(super) struct Partitions {
    known: tokio::sync::Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    /// Per table of [`TABLES`], the days its partitions cover.
    days: [BTreeSet<i64>; 2],
    failed: Option<Instant>,
}

impl Partitions {
    /// Makes sure both tables have a partition for each of `days` and for today and the
    /// next [`AHEAD`] days: at once when this process knows them all, else in a
    /// transaction of its own. A failure is logged and not tried again for a minute; the
    /// rows then go to the default partitions, never refused.
    /// `connect` gives the connection, when one is needed (a future: it does nothing unless
    /// awaited, so a process that knows every day never takes one).
    pub(super) async fn ensure(
        &self,
        connect: impl std::future::Future<Output = Result<Object, StoreError>>,
        days: impl IntoIterator<Item = i64>,
    ) {
        let mut wanted: BTreeSet<i64> = days.into_iter().collect();
        let today = today();
        wanted.extend(today..=today + AHEAD);
        let mut known = self.known.lock().await;
        if known.days.iter().all(|k| wanted.is_subset(k)) {
            return;
        }
        if known.failed.is_some_and(|at| at.elapsed() < RETRY_AFTER) {
            return;
        }
        match make(connect, &wanted).await {
            Ok(found) => {
                known.days = found;
                known.failed = None;
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "cannot make the day partitions: reports of those days go to the default \
                     partitions (retried in a minute)"
                );
                known.failed = Some(Instant::now());
            }
        }
    }
}

/// Today, in days since the epoch (UTC).
fn today() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    secs.div_euclid(DAY)
}

/// Makes the missing partitions of `days` in both tables, under the advisory lock; returns
/// the days each table's partitions cover afterwards.
async fn make(
    connect: impl std::future::Future<Output = Result<Object, StoreError>>,
    days: &BTreeSet<i64>,
) -> Result<[BTreeSet<i64>; 2], StoreError> {
    let mut conn = connect.await?;
    let result = async {
        let tx = conn.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
            .await?;
        let mut covered: [BTreeSet<i64>; 2] = Default::default();
        for (table, covered) in TABLES.iter().zip(covered.iter_mut()) {
            let have = partitions(&*tx, table).await?;
            for &day in days {
                if !have.iter().any(|p| holds(p, day)) {
                    make_day(&*tx, table, day).await?;
                }
            }
            for p in partitions(&*tx, table).await? {
                if let Some((from, to)) = p.range {
                    covered.extend(from.div_euclid(DAY)..(to + DAY - 1).div_euclid(DAY));
                }
            }
        }
        tx.commit().await?;
        Ok(covered)
    }
    .await;
    // As `db::read_error` does (this file stays below `db.rs`, which holds the partitions):
    // the connection may be mid-transaction, so it leaves the pool; the error is the driver's.
    result.map_err(|e: tokio_postgres::Error| {
        drop(Object::take(conn));
        StoreError::database(e)
    })
}

/// Whether partition `p` holds all of `day`.
fn holds(p: &Partition, day: i64) -> bool {
    p.range
        .is_some_and(|(from, to)| from <= day * DAY && (day + 1) * DAY <= to)
}

/// Makes `table`'s partition for `day` (`violations_20270115`), first moving the rows of
/// that day out of the default partition (where they went while there was none): a new
/// table, the rows, then `ATTACH`, which holds the parent only against other schema changes
/// (`SHARE UPDATE EXCLUSIVE`), not against writers.
pub(super) async fn make_day(
    c: &impl GenericClient,
    table: &str,
    day: i64,
) -> Result<(), tokio_postgres::Error> {
    let (y, m, d) = civil(day);
    let name = format!("{table}_{y:04}{m:02}{d:02}");
    let (from, to) = (day * DAY, (day + 1) * DAY);
    c.batch_execute(&format!(
        "CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
         WITH moved AS (DELETE FROM {table}_default WHERE received_at >= {from} \
             AND received_at < {to} RETURNING *)
         INSERT INTO {name} SELECT * FROM moved;
         ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({from}) TO ({to});"
    ))
    .await
}

/// The partitions of `table`, read from the catalog.
pub(super) async fn partitions(
    c: &impl GenericClient,
    table: &str,
) -> Result<Vec<Partition>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::text::regclass",
            &[&table],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Partition {
            name: r.get(0),
            range: bounds(r.get::<_, &str>(1)),
        })
        .collect())
}

/// `FOR VALUES FROM ('1700000000') TO ('1700086400')` as `(1700000000, 1700086400)`;
/// `None` for `DEFAULT` (or anything else).
fn bounds(expr: &str) -> Option<(i64, i64)> {
    let (_, rest) = expr.split_once("FROM (")?;
    let (from, rest) = rest.split_once(") TO (")?;
    let to = rest.strip_suffix(')')?;
    let number = |s: &str| s.trim().trim_matches('\'').parse::<i64>().ok();
    Some((number(from)?, number(to)?))
}

/// Whether any partition of `table` ends at or before `before` (it would be dropped whole).
pub(super) async fn any_ends_before(
    c: &impl GenericClient,
    table: &str,
    before: i64,
) -> Result<bool, tokio_postgres::Error> {
    Ok(partitions(c, table)
        .await?
        .iter()
        .any(|p| p.range.is_some_and(|(_, to)| to <= before)))
}

/// Removes `table`'s rows received before `before`: every partition that ends at or before
/// it is counted and dropped whole; the rows before it in the others (the day it falls in,
/// the default partition) are deleted. Returns how many rows went. The caller holds the
/// locks (the parent `ACCESS EXCLUSIVE` when a partition goes).
pub(super) async fn remove_before(
    c: &impl GenericClient,
    table: &str,
    before: i64,
) -> Result<u64, tokio_postgres::Error> {
    let mut removed = 0u64;
    for p in partitions(c, table).await? {
        if p.range.is_some_and(|(_, to)| to <= before) {
            let n: i64 = c
                .query_one(&format!("SELECT count(*) FROM {}", p.name), &[])
                .await?
                .get(0);
            c.batch_execute(&format!("DROP TABLE {}", p.name)).await?;
            removed += n.max(0) as u64;
        }
    }
    removed += c
        .execute(
            &format!("DELETE FROM {table} WHERE received_at < $1"),
            &[&before],
        )
        .await?;
    Ok(removed)
}

/// The date (year, month, day) of `day` days after 1970-01-01 (proleptic Gregorian; Howard
/// Hinnant's `civil_from_days`).
fn civil(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_bounds() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_722), (2023, 12, 31));
        assert_eq!(civil(11_016), (2000, 2, 29));
        assert_eq!(civil(20_819), (2027, 1, 1));
        assert_eq!(
            bounds("FOR VALUES FROM ('1700000000') TO ('1700086400')"),
            Some((1_700_000_000, 1_700_086_400))
        );
        assert_eq!(bounds("DEFAULT"), None);
        let day = Partition {
            name: "violations_20231231".into(),
            range: Some((19_722 * DAY, 19_723 * DAY)),
        };
        assert!(holds(&day, 19_722) && !holds(&day, 19_723));
    }
}

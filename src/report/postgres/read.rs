//! The reads: the summary from the `groups` aggregate, activity by hour, and the inventory
//! from `observations`, each on a pooled connection on the caller's runtime.

use std::collections::HashMap;

use super::db::{read_error, Db};
use super::write::text;
use crate::report::sql::{
    self, activity_by_hour, group_columns, heard_by_hour, inventory_by_destination, reported_since,
    rollout_insert, rollout_update,
};
use crate::report::store::{
    Activity, DestinationUse, GroupKey, HourWindow, Reported, Rollout, StoreError, Summary,
    REPORTED_CAP,
};

/// Violations per group and per hour, and in all, in `[$1, $2)` (Unix seconds, read with
/// the primary key, `(received_at, id)`, of each day's partition), for the groups whose key
/// columns are listed in the arrays `$3`..`$7`.
const ACTIVITY: &str = activity_by_hour!(
    "$1",
    "$2",
    "SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])"
);

const INVENTORY: &str = inventory_by_destination!("$1", "string_agg(DISTINCT o.engine, ',')");

/// Page loads (each once, re-weighted) that reached any destination of `$2` since `$1`.
const PAGE_LOADS_REACHING: &str = "SELECT COALESCE(SUM(w), 0.0)::float8 FROM (SELECT DISTINCT \
     page_load, 1.0::float8 / sample_rate AS w FROM observations WHERE received_at >= $1 \
     AND destination = ANY($2::text[])) x";

pub(super) async fn inventory(shared: &Db, since: i64) -> Result<Vec<DestinationUse>, StoreError> {
    let conn = shared.connection().await?;
    let rows = match conn.query(INVENTORY, &[&since]).await {
        Ok(rows) => rows,
        Err(e) => return Err(read_error(conn, e)),
    };
    let mut out: Vec<DestinationUse> = rows
        .iter()
        .filter_map(|r| {
            let destination = sql::stored_origin(r.get::<_, &str>(0))?;
            let document_origin = r.get::<_, Option<&str>>(1).and_then(sql::stored_origin);
            Some(sql::destination_use(
                destination,
                document_origin,
                r.get(2),
                r.get::<_, Option<f64>>(3),
                r.get(4),
                r.get::<_, Option<&str>>(5),
                r.get(6),
                r.get(7),
                r.get(8),
            ))
        })
        .collect();
    sql::by_page_loads(&mut out);
    Ok(out)
}

pub(super) async fn summary(shared: &Db, limit: i64) -> Result<Summary, StoreError> {
    let mut conn = shared.connection().await?;
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
                    " FROM groups ORDER BY reach DESC, count DESC, blocked_origin COLLATE \"C\" \
                     LIMIT $1"
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
                    r.get(9),
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
}

pub(super) async fn activity(
    shared: &Db,
    keys: &[GroupKey],
    window: HourWindow,
) -> Result<Activity, StoreError> {
    let (from, until) = sql::window_secs(window);
    // Rows hold keys as stored (NUL as U+FFFD, `text`): their counts go to every key
    // asked for that is stored so.
    let mut asked: HashMap<GroupKey, Vec<&GroupKey>> = HashMap::new();
    for k in keys {
        let stored = sql::activity_key(
            text(&k.directive).into_owned(),
            text(k.blocked_origin.as_str()).into_owned(),
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
    let origin = column(|k| k.blocked_origin.as_str());
    let path = column(|k| &k.document_path);
    let disposition = column(|k| k.disposition.as_str());
    let class = column(|k| k.class.as_str());
    let mut out = Activity::new(window, keys);
    let conn = shared.connection().await?;
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

/// Page loads (each once, re-weighted) that reached any of `destinations` since `since`.
pub(super) async fn page_loads_reaching(
    shared: &Db,
    destinations: &[String],
    since: i64,
) -> Result<f64, StoreError> {
    let conn = shared.connection().await?;
    match conn
        .query_one(PAGE_LOADS_REACHING, &[&since, &destinations])
        .await
    {
        Ok(r) => Ok(r.get::<_, f64>(0)),
        Err(e) => Err(read_error(conn, e)),
    }
}

const REPORTED_SINCE: &str = reported_since!("$1", "$2");

const HEARD: &str = heard_by_hour!("$1", "$2");

/// The violations since `since` by destination, with reach: one statement, the day
/// partitions from `since` on read by their primary key.
pub(super) async fn reported(shared: &Db, since: i64) -> Result<Vec<Reported>, StoreError> {
    let conn = shared.connection().await?;
    let limit = REPORTED_CAP as i64;
    let rows = match conn.query(REPORTED_SINCE, &[&since, &limit]).await {
        Ok(rows) => rows,
        Err(e) => return Err(read_error(conn, e)),
    };
    Ok(rows
        .iter()
        .map(|r| {
            sql::reported_row(
                r.get(0),
                r.get(1),
                r.get::<_, &str>(2),
                r.get::<_, &str>(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
                r.get::<_, Option<&str>>(8),
            )
        })
        .collect())
}

pub(super) async fn heard(shared: &Db, window: HourWindow) -> Result<Vec<u64>, StoreError> {
    let (from, until) = sql::window_secs(window);
    let conn = shared.connection().await?;
    match conn.query(HEARD, &[&from, &until]).await {
        Ok(rows) => Ok(sql::heard_hours(
            window,
            rows.iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1))),
        )),
        Err(e) => Err(read_error(conn, e)),
    }
}

/// The rollout record, if any; a record this version cannot read is an error.
pub(super) async fn rollout(shared: &Db) -> Result<Option<Rollout>, StoreError> {
    let conn = shared.connection().await?;
    let row = match conn
        .query_opt("SELECT version, record FROM rollout WHERE id = 1", &[])
        .await
    {
        Ok(row) => row,
        Err(e) => return Err(read_error(conn, e)),
    };
    row.map(|r| {
        let mut rollout = Rollout::from_record(r.get::<_, &str>(1))?;
        rollout.version = r.get::<_, i64>(0).max(0) as u64;
        Ok(rollout)
    })
    .transpose()
}

/// One statement, atomic: applied only at the version read (`None`: there is none), so of
/// two collectors of a fleet replacing the same version one changes a row.
pub(super) async fn replace_rollout(
    shared: &Db,
    expected: Option<i64>,
    version: i64,
    record: &str,
) -> Result<bool, StoreError> {
    let conn = shared.connection().await?;
    let changed = match expected {
        None => {
            conn.execute(rollout_insert!("$1", "$2"), &[&version, &record])
                .await
        }
        Some(v) => {
            conn.execute(rollout_update!("$1", "$2", "$3"), &[&version, &record, &v])
                .await
        }
    };
    match changed {
        Ok(n) => Ok(n == 1),
        Err(e) => Err(read_error(conn, e)),
    }
}

//! The reads: the summary from the `groups` aggregate, activity by hour, and the inventory
//! from `observations`. Each runs on the read connection, on tokio's blocking pool.

use rusqlite::{params, Connection, OptionalExtension};

use super::count;
use crate::report::sql::{
    self, activity_by_hour, heard_by_hour, inventory_by_destination, reported_since,
};
use crate::report::store::{
    Activity, DestinationUse, GroupKey, HourWindow, Reported, Rollout, StoreError, Summary,
    REPORTED_CAP,
};

/// Violations per group and per hour, and in all, in `[?1, ?2)` (Unix seconds), for the
/// groups listed in `?3`: a JSON array of `[directive, blocked_origin, document_path,
/// disposition, class]` arrays.
const ACTIVITY: &str = activity_by_hour!(
    "?1",
    "?2",
    "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?3)"
);

const INVENTORY: &str = inventory_by_destination!("?1", "group_concat(DISTINCT o.engine)");

/// Page loads (each once, re-weighted) that reached any destination of the JSON array `?2`
/// since `?1`.
const PAGE_LOADS_REACHING: &str = "SELECT COALESCE(SUM(w), 0.0) FROM (SELECT DISTINCT \
     page_load, 1.0 / sample_rate AS w FROM observations WHERE received_at >= ?1 AND \
     destination IN (SELECT value FROM json_each(?2)))";

const REPORTED_SINCE: &str = reported_since!("?1", "?2");

const HEARD: &str = heard_by_hour!("?1", "?2");

pub(super) fn reported(c: &Connection, since: i64) -> rusqlite::Result<Vec<Reported>> {
    let mut st = c.prepare_cached(REPORTED_SINCE)?;
    let rows = st.query_map(params![since, REPORTED_CAP as i64], |r| {
        Ok(sql::reported_row(
            r.get(0)?,
            r.get(1)?,
            &r.get::<_, String>(2)?,
            &r.get::<_, String>(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get::<_, Option<String>>(8)?.as_deref(),
        ))
    })?;
    rows.collect()
}

pub(super) fn heard(c: &Connection, window: HourWindow) -> rusqlite::Result<Vec<u64>> {
    let (from, until) = sql::window_secs(window);
    let mut st = c.prepare_cached(HEARD)?;
    let rows = st
        .query_map(params![from, until], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<(i64, i64)>>>()?;
    Ok(sql::heard_hours(window, rows.into_iter()))
}

/// The rollout record, if any; a record this version cannot read is an error, not `None`.
pub(super) fn rollout(c: &Connection) -> Result<Option<Rollout>, StoreError> {
    let row: Option<(i64, String)> = c
        .query_row(
            "SELECT version, record FROM rollout WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(super::db)?;
    row.map(|(version, text)| {
        let mut r = Rollout::from_record(&text)?;
        r.version = version.max(0) as u64;
        Ok(r)
    })
    .transpose()
}

pub(super) fn summary(c: &Connection, limit: usize) -> rusqlite::Result<Summary> {
    let total = count(c)?;
    let filtered = c
        .query_row(
            "SELECT value FROM counters WHERE name = 'filtered'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .unwrap_or(0)
        .max(0) as u64;
    let mut st = c.prepare_cached(
        "SELECT directive, blocked_origin, document_path, disposition, count,
                first_seen, last_seen, sample, class, reach
         FROM groups ORDER BY reach DESC, count DESC, blocked_origin LIMIT ?1",
    )?;
    let groups = st
        .query_map(params![limit.min(i64::MAX as usize) as i64], |r| {
            Ok(sql::group_from_row(
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                &r.get::<_, String>(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                &r.get::<_, String>(8)?,
                r.get(9)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Summary {
        total,
        filtered,
        groups,
    })
}

pub(super) fn activity(
    c: &Connection,
    keys: &[GroupKey],
    window: HourWindow,
) -> rusqlite::Result<Activity> {
    let listed: Vec<[&str; 5]> = keys
        .iter()
        .map(|k| {
            [
                k.directive.as_str(),
                k.blocked_origin.as_str(),
                k.document_path.as_str(),
                k.disposition.as_str(),
                k.class.as_str(),
            ]
        })
        .collect();
    // A list of strings always serializes.
    let listed = serde_json::to_string(&listed).unwrap_or_else(|_| "[]".into());
    let (from, until) = sql::window_secs(window);
    let mut out = Activity::new(window, keys);
    let mut st = c.prepare_cached(ACTIVITY)?;
    let mut rows = st.query(params![from, until, listed])?;
    while let Some(r) = rows.next()? {
        let key = match r.get::<_, Option<String>>(0)? {
            Some(directive) => Some(sql::activity_key(
                directive,
                r.get(1)?,
                r.get(2)?,
                &r.get::<_, String>(3)?,
                &r.get::<_, String>(4)?,
            )),
            None => None,
        };
        let (hour, count) = (r.get::<_, i64>(5)?, r.get::<_, i64>(6)?);
        let (hour, count) = (hour.max(0) as u64, count.max(0) as u64);
        match key {
            Some(key) => out.add(&key, hour, count),
            None => out.add_total(hour, count),
        }
    }
    Ok(out)
}

pub(super) fn inventory(c: &Connection, since: i64) -> rusqlite::Result<Vec<DestinationUse>> {
    let mut st = c.prepare_cached(INVENTORY)?;
    let mut rows = st.query(params![since])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        // Rows this version wrote hold origins; anything else (edited by hand) is skipped.
        let Some(destination) = sql::stored_origin(&r.get::<_, String>(0)?) else {
            continue;
        };
        let document_origin = r
            .get::<_, Option<String>>(1)?
            .and_then(|d| sql::stored_origin(&d));
        out.push(sql::destination_use(
            destination,
            document_origin,
            r.get(2)?,
            r.get::<_, Option<f64>>(3)?,
            r.get(4)?,
            r.get::<_, Option<String>>(5)?.as_deref(),
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
        ));
    }
    sql::by_page_loads(&mut out);
    Ok(out)
}

pub(super) fn page_loads_reaching(
    c: &Connection,
    destinations: &[String],
    since: i64,
) -> rusqlite::Result<f64> {
    let listed = serde_json::to_string(destinations).unwrap_or_else(|_| "[]".into());
    c.prepare_cached(PAGE_LOADS_REACHING)?
        .query_row(params![since, listed], |r| r.get(0))
}

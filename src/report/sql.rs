//! What the two SQL sinks (SQLite and PostgreSQL) share, written once: the `violations`
//! columns, the row a [`Violation`] becomes (its [`GroupKey`] parts included, so both
//! databases group alike), the user agents it refers to (each stored once, keyed by
//! [`user_agent_id`]), and one commit's aggregate (one upsert per group per transaction,
//! however many of its reports came in). Each sink keeps only what differs:
//! its SQL dialect, its connection and its writer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::store::{
    Blocked, Class, DestinationUse, Disposition, Group, GroupKey, HourWindow, Network, Observation,
    Reported, Violation,
};
use crate::matcher::Engine;
use crate::source::Origin;

/// The `violations` columns every SQL sink writes, in the order [`Row`] holds them (a
/// macro, so each dialect's statements are put together with `concat!` at compile time).
macro_rules! violation_columns {
    () => {
        "received_at, document_url, document_path, blocked_url, blocked_origin, directive, \
         violated_directive, disposition, status_code, source_file, line, col, sample, \
         referrer, user_agent_id, original_policy, format, class, network"
    };
}

/// The `groups` columns, in the order [`GroupRow`] holds them.
macro_rules! group_columns {
    () => {
        "directive, blocked_origin, document_path, disposition, count, first_seen, last_seen, \
         sample, class, reach"
    };
}

/// The `observations` columns, in the order [`ObservationRow`] holds them.
macro_rules! observation_columns {
    () => {
        "received_at, destination, document_origin, document_path, page_load, sample_rate, \
         engine, network, class"
    };
}

/// What the inventory reads, per destination and document origin, over the observations
/// received at or after `$since` (the dialect's placeholder): distinct page loads, their
/// re-weighted sum (each page load counted once, at `1 / sample_rate`), distinct networks,
/// the engines (comma-joined, as `$engines` aggregates them: `group_concat(DISTINCT engine)`
/// or `string_agg(DISTINCT engine, ',')`), reports, first and last seen.
macro_rules! inventory_by_destination {
    ($since:literal, $engines:literal) => {
        concat!(
            "SELECT o.destination, o.document_origin, COUNT(DISTINCT o.page_load), \
             (SELECT SUM(w) FROM (SELECT DISTINCT page_load, 1.0 / sample_rate AS w \
                 FROM observations d WHERE d.received_at >= ",
            $since,
            " AND d.destination = o.destination \
                 AND d.document_origin IS NOT DISTINCT FROM o.document_origin) x), \
             COUNT(DISTINCT o.network), ",
            $engines,
            ", COUNT(*), MIN(o.received_at), MAX(o.received_at) FROM observations o \
             WHERE o.received_at >= ",
            $since,
            " GROUP BY o.destination, o.document_origin"
        )
    };
}

/// The groups counted from the stored rows (`sample`: any one blocked URL of the group),
/// with each group's `reach` counted from `group_networks`, which must hold the rows'
/// networks first (`group_networks_from_rows!`), in `group_columns!` order; both dialects
/// read it alike. Used by migrations and `prune_before`. Counting reach from
/// `group_networks` rather than `COUNT(DISTINCT network)` keeps the pass over the rows a
/// hash aggregate: measured 0.15 s instead of 0.78 s on 500,000 PostgreSQL rows (the
/// distinct count sorted them on disk).
macro_rules! groups_from_rows {
    () => {
        "SELECT v.directive, v.blocked_origin, v.document_path, v.disposition, v.n, v.lo, \
         v.hi, v.sample, v.class, COALESCE(r.reach, 0) FROM (SELECT directive, \
         blocked_origin, document_path, disposition, class, COUNT(*) AS n, \
         MIN(received_at) AS lo, MAX(received_at) AS hi, MAX(blocked_url) AS sample \
         FROM violations GROUP BY directive, blocked_origin, document_path, disposition, \
         class) v LEFT JOIN (SELECT directive, blocked_origin, document_path, disposition, \
         class, COUNT(*) AS reach FROM group_networks GROUP BY directive, blocked_origin, \
         document_path, disposition, class) r ON r.directive = v.directive \
         AND r.blocked_origin = v.blocked_origin AND r.document_path = v.document_path \
         AND r.disposition = v.disposition AND r.class = v.class"
    };
}

/// The `group_networks` rows (each group's distinct networks) from the stored rows, in
/// `directive, blocked_origin, document_path, disposition, class, network` order. Used by
/// migrations and `prune_before`.
macro_rules! group_networks_from_rows {
    () => {
        "SELECT DISTINCT directive, blocked_origin, document_path, disposition, class, network \
         FROM violations WHERE network IS NOT NULL"
    };
}

/// Violations per group per Unix hour (`received_at / 3600`, Unix seconds, so a whole hour,
/// UTC) in `[$from, $until)`, for the groups the key set `$keys` lists (a subquery of the
/// five key columns, in [`GroupKey`] order), followed by rows whose key columns are NULL:
/// every violation per hour, in all. Each row: the five key columns, the hour, the count.
/// The window bounds are the dialect's placeholders (`?1`, `$1`), so both read alike with
/// the index on `received_at`.
macro_rules! activity_by_hour {
    ($from:literal, $until:literal, $keys:literal) => {
        concat!(
            "SELECT directive, blocked_origin, document_path, disposition, class, \
             received_at / 3600 AS bucket, COUNT(*) FROM violations \
             WHERE received_at >= ",
            $from,
            " AND received_at < ",
            $until,
            " AND (directive, blocked_origin, document_path, disposition, class) IN (",
            $keys,
            ") GROUP BY directive, blocked_origin, document_path, disposition, class, bucket \
             UNION ALL \
             SELECT NULL, NULL, NULL, NULL, NULL, received_at / 3600 AS bucket, COUNT(*) \
             FROM violations WHERE received_at >= ",
            $from,
            " AND received_at < ",
            $until,
            " GROUP BY bucket"
        )
    };
}

/// The violations received at or after `$since` per directive, blocked origin, disposition
/// and class, widest reach first, at most `$limit` rows: reports, distinct networks, first
/// and last seen, and the least document URL (the page a matcher judges from). What
/// [`ReportStore::reported_since`](crate::report::store::ReportStore::reported_since)
/// reads, with the index on `received_at`.
macro_rules! reported_since {
    ($since:literal, $limit:literal) => {
        concat!(
            "SELECT directive, blocked_origin, disposition, class, COUNT(*), \
             COUNT(DISTINCT network), MIN(received_at), MAX(received_at), MIN(document_url) \
             FROM violations WHERE received_at >= ",
            $since,
            " GROUP BY directive, blocked_origin, disposition, class \
             ORDER BY COUNT(DISTINCT network) DESC, COUNT(*) DESC LIMIT ",
            $limit
        )
    };
}

/// Distinct client networks per Unix hour in `[$from, $until)`, violations and
/// observations together: what [`ReportStore::heard`](crate::report::store::ReportStore::heard)
/// reads. Each row: the hour, the networks.
macro_rules! heard_by_hour {
    ($from:literal, $until:literal) => {
        concat!(
            "SELECT h, COUNT(DISTINCT network) FROM (SELECT received_at / 3600 AS h, network \
             FROM violations WHERE received_at >= ",
            $from,
            " AND received_at < ",
            $until,
            " AND network IS NOT NULL UNION ALL SELECT received_at / 3600 AS h, network \
             FROM observations WHERE received_at >= ",
            $from,
            " AND received_at < ",
            $until,
            " AND network IS NOT NULL) x GROUP BY h"
        )
    };
}

/// The rollout's one record: inserted when there is none (`$version`, `$record`), else
/// nothing (zero rows: another writer was first).
macro_rules! rollout_insert {
    ($version:literal, $record:literal) => {
        concat!(
            "INSERT INTO rollout (id, version, record) VALUES (1, ",
            $version,
            ", ",
            $record,
            ") ON CONFLICT (id) DO NOTHING"
        )
    };
}

/// The rollout's record replaced only at version `$expected` (zero rows: another writer
/// changed it first).
macro_rules! rollout_update {
    ($version:literal, $record:literal, $expected:literal) => {
        concat!(
            "UPDATE rollout SET version = ",
            $version,
            ", record = ",
            $record,
            " WHERE id = 1 AND version = ",
            $expected
        )
    };
}

pub(crate) use {
    activity_by_hour, group_columns, group_networks_from_rows, groups_from_rows, heard_by_hour,
    inventory_by_destination, observation_columns, reported_since, rollout_insert, rollout_update,
    violation_columns,
};

/// One row of [`reported_since!`] as a [`Reported`].
#[allow(clippy::too_many_arguments)] // the query's columns, in order
pub(crate) fn reported_row(
    directive: String,
    blocked: String,
    disposition: &str,
    class: &str,
    reports: i64,
    networks: i64,
    first_seen: i64,
    last_seen: i64,
    document_url: Option<&str>,
) -> Reported {
    Reported {
        directive,
        blocked: Blocked::from_stored(blocked),
        disposition: Disposition::parse(disposition),
        class: Class::parse(class),
        document: document_url.and_then(Origin::of_url),
        reports: reports.max(0) as u64,
        networks: networks.max(0) as u64,
        first_seen: time(first_seen),
        last_seen: time(last_seen),
    }
}

/// The networks per hour of `window` from [`heard_by_hour!`]'s rows.
pub(crate) fn heard_hours(window: HourWindow, rows: impl Iterator<Item = (i64, i64)>) -> Vec<u64> {
    let mut out = vec![0; window.hours()];
    for (hour, networks) in rows {
        if let Some(i) = window.index_of(hour.max(0) as u64) {
            out[i] = networks.max(0) as u64;
        }
    }
    out
}

/// Most violations in one transaction; more waiting go in the next one.
pub(crate) const MAX_ROWS_PER_COMMIT: usize = 1024;

/// One `violations` row: the columns of `violation_columns!`, typed as both databases
/// take them (times in Unix seconds, numbers as `i64`).
#[derive(Debug)]
pub(crate) struct Row<'a> {
    pub(crate) received_at: i64,
    pub(crate) document_url: &'a str,
    pub(crate) document_path: &'a str,
    pub(crate) blocked_url: &'a str,
    pub(crate) blocked_origin: &'a str,
    pub(crate) directive: &'a str,
    pub(crate) violated_directive: Option<&'a str>,
    pub(crate) disposition: &'static str,
    pub(crate) status_code: Option<i64>,
    pub(crate) source_file: Option<&'a str>,
    pub(crate) line: Option<i64>,
    pub(crate) col: Option<i64>,
    pub(crate) sample: Option<&'a str>,
    pub(crate) referrer: Option<&'a str>,
    /// The key of the row's user agent in `user_agents` ([`user_agent_id`]).
    pub(crate) user_agent_id: Option<i64>,
    pub(crate) original_policy: Option<&'a str>,
    pub(crate) format: &'static str,
    pub(crate) class: &'static str,
    pub(crate) network: Option<i64>,
}

/// One `observations` row: the columns of `observation_columns!`.
#[derive(Debug)]
pub(crate) struct ObservationRow<'a> {
    pub(crate) received_at: i64,
    pub(crate) destination: &'a str,
    pub(crate) document_origin: Option<&'a str>,
    pub(crate) document_path: &'a str,
    pub(crate) page_load: i64,
    pub(crate) sample_rate: f64,
    pub(crate) engine: Option<&'static str>,
    pub(crate) network: Option<i64>,
    pub(crate) class: &'static str,
}

/// One group's newly seen network: a `group_networks` row to add (and, when it was not
/// there, one more for the group's `reach`).
#[derive(Debug)]
pub(crate) struct ReachRow<'a> {
    pub(crate) directive: &'a str,
    pub(crate) blocked_origin: &'a str,
    pub(crate) document_path: &'a str,
    pub(crate) disposition: &'static str,
    pub(crate) class: &'static str,
    pub(crate) network: i64,
}

/// One `groups` row to add to the aggregate: the columns of `group_columns!`.
#[derive(Debug)]
pub(crate) struct GroupRow<'a> {
    pub(crate) directive: &'a str,
    pub(crate) blocked_origin: &'a str,
    pub(crate) document_path: &'a str,
    pub(crate) disposition: &'static str,
    pub(crate) count: i64,
    pub(crate) first_seen: i64,
    pub(crate) last_seen: i64,
    pub(crate) sample: &'a str,
    pub(crate) class: &'static str,
    /// Always 0 here: reach is added by the `group_networks` step, never by the upsert.
    pub(crate) reach: i64,
}

/// What one transaction writes: every violation's key (computed once), the groups they add
/// to, and the noise count. Groups come out in key order, so every writer (in this process
/// or another) takes the group rows' locks in the same order and concurrent upserts cannot
/// deadlock each other.
#[derive(Debug, Default)]
pub(crate) struct Commit<'a> {
    /// Each violation with its group key and its user agent's key.
    violations: Vec<(&'a Violation, GroupKey, Option<i64>)>,
    /// The distinct user agents of this commit, by key (so every writer inserts them in
    /// the same order).
    user_agents: BTreeMap<i64, &'a str>,
    groups: BTreeMap<GroupKey, Group>,
    /// Each group's networks in this commit, in key order (so `group_networks` rows are
    /// locked in the same order by every writer).
    networks: BTreeSet<(GroupKey, Network)>,
    observations: Vec<&'a Observation>,
    filtered: u64,
}

impl<'a> Commit<'a> {
    /// Adds one batch's violations.
    pub(crate) fn add(&mut self, batch: &'a [Violation]) {
        self.violations.reserve(batch.len());
        // A request's reports mostly share one user agent: hashed once, not per report.
        let mut last: Option<(&str, i64)> = None;
        for v in batch {
            let agent = v.user_agent.as_deref().map(|text| match last {
                Some((t, id)) if t == text => id,
                _ => {
                    let id = user_agent_id(text);
                    last = Some((text, id));
                    self.user_agents.entry(id).or_insert(text);
                    id
                }
            });
            let key = GroupKey::of(v);
            match self.groups.get_mut(&key) {
                Some(g) => g.add(1, v.received_at),
                None => {
                    let mut g = Group::new(key.clone(), v.received_at, v.blocked_url.clone());
                    g.add(1, v.received_at);
                    self.groups.insert(key.clone(), g);
                }
            }
            if let Some(n) = v.network {
                self.networks.insert((key.clone(), n));
            }
            self.violations.push((v, key, agent));
        }
    }

    /// Adds one batch's observations.
    pub(crate) fn observe(&mut self, batch: &'a [Observation]) {
        self.observations.extend(batch);
    }

    /// The `observations` rows, in arrival order.
    pub(crate) fn observation_rows(&self) -> impl Iterator<Item = ObservationRow<'_>> {
        self.observations.iter().map(|o| ObservationRow {
            received_at: secs(o.received_at),
            destination: o.destination.as_str(),
            document_origin: o.document_origin.as_ref().map(|d| d.as_str()),
            document_path: &o.document_path,
            page_load: o.page_load.0 as i64,
            sample_rate: o.weight().recip(),
            engine: o.engine.map(|e| e.as_str()),
            network: o.network.map(|n| n.0 as i64),
            class: o.class.as_str(),
        })
    }

    /// Each group's networks seen in this commit, in key order.
    pub(crate) fn reach_rows(&self) -> impl Iterator<Item = ReachRow<'_>> {
        self.networks.iter().map(|(k, n)| ReachRow {
            directive: &k.directive,
            blocked_origin: k.blocked_origin.as_str(),
            document_path: &k.document_path,
            disposition: k.disposition.as_str(),
            class: k.class.as_str(),
            network: n.0 as i64,
        })
    }

    /// The distinct user agents the rows refer to, `(key, text)` in key order. A key already
    /// stored keeps its text (`INSERT … ON CONFLICT DO NOTHING`).
    pub(crate) fn user_agent_rows(&self) -> impl Iterator<Item = (i64, &str)> + '_ {
        self.user_agents.iter().map(|(id, text)| (*id, *text))
    }

    /// Counts `n` more violations dropped as noise.
    pub(crate) fn add_filtered(&mut self, n: u64) {
        self.filtered = self.filtered.saturating_add(n);
    }

    /// The noise count to add, as the databases store it.
    pub(crate) fn filtered(&self) -> i64 {
        int(self.filtered)
    }

    /// How many violations.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.violations.len()
    }

    /// The `violations` rows, in arrival order.
    pub(crate) fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.violations.iter().map(|(v, key, agent)| Row {
            received_at: secs(v.received_at),
            document_url: &v.document_url,
            document_path: &key.document_path,
            blocked_url: &v.blocked_url,
            blocked_origin: key.blocked_origin.as_str(),
            directive: &key.directive,
            violated_directive: v.violated_directive.as_deref(),
            disposition: key.disposition.as_str(),
            status_code: v.status_code.map(i64::from),
            source_file: v.source_file.as_deref(),
            line: v.line.map(i64::from),
            col: v.column.map(i64::from),
            sample: v.sample.as_deref(),
            referrer: v.referrer.as_deref(),
            user_agent_id: *agent,
            original_policy: v.original_policy.as_deref(),
            format: v.format.as_str(),
            class: key.class.as_str(),
            network: v.network.map(|n| n.0 as i64),
        })
    }

    /// The groups to upsert, in key order.
    pub(crate) fn groups(&self) -> impl Iterator<Item = GroupRow<'_>> {
        self.groups.values().map(|g| GroupRow {
            directive: &g.directive,
            blocked_origin: g.blocked_origin.as_str(),
            document_path: &g.document_path,
            disposition: g.disposition.as_str(),
            count: int(g.count),
            first_seen: secs(g.first_seen),
            last_seen: secs(g.last_seen),
            sample: &g.sample,
            class: g.class.as_str(),
            reach: 0,
        })
    }
}

/// A stored `groups` row read back as a summary [`Group`].
#[allow(clippy::too_many_arguments)] // the row's columns, in `group_columns!` order
pub(crate) fn group_from_row(
    directive: String,
    blocked_origin: String,
    document_path: String,
    disposition: &str,
    count: i64,
    first_seen: i64,
    last_seen: i64,
    sample: String,
    class: &str,
    reach: i64,
) -> Group {
    let key = activity_key(directive, blocked_origin, document_path, disposition, class);
    let mut g = Group::new(key, time(first_seen), sample);
    g.count = count.max(0) as u64;
    g.reach = reach.max(0) as u64;
    g.last_seen = time(last_seen);
    g
}

/// The `[from, until)` bounds of `window` in Unix seconds, as `activity_by_hour!` takes them.
pub(crate) fn window_secs(window: HourWindow) -> (i64, i64) {
    (secs(window.start()), secs(window.end()))
}

/// The key of a stored row (the five key columns of `groups`, or of a row of
/// `activity_by_hour!`), read back at the database's edge.
pub(crate) fn activity_key(
    directive: String,
    blocked_origin: String,
    document_path: String,
    disposition: &str,
    class: &str,
) -> GroupKey {
    GroupKey {
        directive,
        blocked_origin: Blocked::from_stored(blocked_origin),
        document_path,
        disposition: Disposition::parse(disposition),
        class: Class::parse(class),
    }
}

/// An origin as stored (`destination`, `document_origin`): `None` for text that is not one.
pub(crate) fn stored_origin(text: &str) -> Option<Origin> {
    text.parse::<Origin>().ok().filter(|o| o.as_str() == text)
}

/// One row of `inventory_by_destination!` as a [`DestinationUse`].
#[allow(clippy::too_many_arguments)] // the query's columns, in order
pub(crate) fn destination_use(
    destination: Origin,
    document_origin: Option<Origin>,
    sampled_page_loads: i64,
    page_loads: Option<f64>,
    networks: i64,
    engines: Option<&str>,
    reports: i64,
    first_seen: i64,
    last_seen: i64,
) -> DestinationUse {
    let mut engines: Vec<Engine> = engines
        .unwrap_or("")
        .split(',')
        .filter_map(Engine::parse)
        .collect();
    engines.sort();
    engines.dedup();
    DestinationUse {
        destination,
        document_origin,
        sampled_page_loads: sampled_page_loads.max(0) as u64,
        page_loads: page_loads.unwrap_or(0.0).max(0.0),
        networks: networks.max(0) as u64,
        engines,
        reports: reports.max(0) as u64,
        first_seen: time(first_seen),
        last_seen: time(last_seen),
    }
}

/// The inventory's order: most page loads first, then by destination.
pub(crate) fn by_page_loads(uses: &mut [DestinationUse]) {
    uses.sort_by(|a, b| {
        b.page_loads
            .total_cmp(&a.page_loads)
            .then_with(|| a.destination.cmp(&b.destination))
            .then_with(|| a.document_origin.cmp(&b.document_origin))
    });
}

/// The key a user agent is stored under in `user_agents`, the same in every store and
/// every process (no lookup, no round trip): the first 8 bytes of the SHA-256 of its UTF-8
/// text, read as a big-endian signed integer. PostgreSQL computes the same from stored text
/// when it migrates (`('x' || left(encode(sha256(convert_to(t, 'UTF8')), 'hex'), 16))::bit(64)
/// ::bigint`). Two texts with one key are found only by trying about 2^32 texts (a
/// birthday search, 64 bits), and then only the searcher's own second text reads as its
/// first: finding a text with the key of one already stored takes about 2^64.
pub(crate) fn user_agent_id(text: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Unix seconds, as stored; times before 1970 are stored as 0.
pub(crate) fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().min(i64::MAX as u64) as i64)
}

/// A stored time; negative values read as the epoch.
pub(crate) fn time(s: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s.max(0) as u64)
}

/// A count as the databases store it (saturating at `i64::MAX`).
pub(crate) fn int(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::intake::{parse_reports, NormalizeOptions};

    fn report(blocked: &str) -> Vec<Violation> {
        let body = format!(
            r#"{{"csp-report":{{"document-uri":"https://app.example/p?q=1","effective-directive":
            "connect-src","blocked-uri":"{blocked}","disposition":"report","line-number":7}}}}"#
        );
        parse_reports(body.as_bytes(), &NormalizeOptions::default())
            .unwrap()
            .violations
    }

    #[test]
    fn one_group_row_per_key_in_key_order() {
        let (a, b, c) = (
            report("https://b.example/x"),
            report("https://a.example/y"),
            report("https://b.example/z"),
        );
        let mut commit = Commit::default();
        commit.add(&a);
        commit.add(&b);
        commit.add(&c);
        commit.add_filtered(3);
        assert_eq!(commit.len(), 3);
        assert_eq!(commit.filtered(), 3);
        let rows: Vec<_> = commit.rows().map(|r| r.blocked_origin.to_owned()).collect();
        assert_eq!(
            rows,
            [
                "https://b.example",
                "https://a.example",
                "https://b.example"
            ]
        );
        let first = commit.rows().next().unwrap();
        assert_eq!(
            (first.document_path, first.disposition, first.line),
            ("/p", "report", Some(7))
        );
        let groups: Vec<_> = commit
            .groups()
            .map(|g| (g.blocked_origin.to_owned(), g.count))
            .collect();
        assert_eq!(
            groups,
            [
                ("https://a.example".to_owned(), 1),
                ("https://b.example".to_owned(), 2)
            ]
        );
    }

    #[test]
    fn a_user_agent_is_kept_once_per_commit_under_its_sha256_key() {
        // SHA-256("abc") begins ba7816bf8f01cfea.
        assert_eq!(
            user_agent_id("abc"),
            i64::from_be_bytes([0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea])
        );
        let mut batch = report("https://a.example/");
        batch.extend(report("https://b.example/"));
        batch.extend(report("https://c.example/"));
        batch[0].user_agent = Some("Firefox/153.0".into());
        batch[1].user_agent = Some("Firefox/153.0".into());
        batch[2].user_agent = Some("Chrome/156".into());
        let mut other = report("https://d.example/");
        other[0].user_agent = Some("Firefox/153.0".into());
        let mut commit = Commit::default();
        commit.add(&batch);
        commit.add(&other);
        let agents: Vec<(i64, &str)> = commit.user_agent_rows().collect();
        let mut want = vec![
            (user_agent_id("Chrome/156"), "Chrome/156"),
            (user_agent_id("Firefox/153.0"), "Firefox/153.0"),
        ];
        want.sort();
        assert_eq!(agents, want);
        let keys: Vec<Option<i64>> = commit.rows().map(|r| r.user_agent_id).collect();
        let (ff, ch) = (user_agent_id("Firefox/153.0"), user_agent_id("Chrome/156"));
        assert_eq!(keys, [Some(ff), Some(ff), Some(ch), Some(ff)]);
    }

    #[test]
    fn stored_times_and_counts_saturate() {
        assert_eq!(secs(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert_eq!(time(-5), UNIX_EPOCH);
        assert_eq!(int(u64::MAX), i64::MAX);
        let g = group_from_row(
            "connect-src".into(),
            "https://a.example".into(),
            "/".into(),
            "enforce",
            -1,
            10,
            20,
            "https://a.example/".into(),
            "stale",
            -3,
        );
        assert_eq!(
            (g.count, g.reach, g.disposition, g.class),
            (0, 0, Disposition::Enforce, Class::Stale)
        );
        assert_eq!(g.last_seen, time(20));
    }
}

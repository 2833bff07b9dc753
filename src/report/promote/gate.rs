//! [`readiness_in`]: the readiness gate ([`learn::readiness`](crate::learn::readiness)) on
//! the evidence a store kept.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::learn::{allowlist_readiness, readiness, Evidence, Gate, Readiness};
use crate::matcher::AllowlistPolicy;
use crate::policy::{ConnectSrc, CONNECTION_ALLOWLIST_DIRECTIVE};
use crate::report::store::{Disposition, HourWindow, ReportStore, StoreError};
use crate::source::Origin;

/// The evidence a store holds for the window from `since` to `now`: the inventory, the
/// genuine report-only `connect-src` violations (the other classes counted as set aside,
/// with the store's noise), the networks heard per hour (the last
/// [`ACTIVITY_HOURS`](crate::report::store::ACTIVITY_HOURS) hours of the window at most), and the page
/// loads, each counted once.
///
/// # Errors
/// The store's, when it cannot be read or keeps no inventory ([`StoreError::Unsupported`]).
pub async fn evidence(
    store: &dyn ReportStore,
    since: SystemTime,
    now: SystemTime,
) -> Result<Evidence, StoreError> {
    evidence_of(store, since, now, "connect-src").await
}

/// [`evidence`] for enforcing a `Connection-Allowlist`: the inventory (connections real
/// pages made, which the allowlist governs too) and the genuine reports of the report-only
/// allowlist (`connection-allowlist`: connections, navigations, subresources) in place of
/// connect-src's.
///
/// # Errors
/// As [`evidence`].
pub async fn allowlist_evidence(
    store: &dyn ReportStore,
    since: SystemTime,
    now: SystemTime,
) -> Result<Evidence, StoreError> {
    evidence_of(store, since, now, CONNECTION_ALLOWLIST_DIRECTIVE).await
}

/// The evidence, with the report-only reports of `directive`.
async fn evidence_of(
    store: &dyn ReportStore,
    since: SystemTime,
    now: SystemTime,
    directive: &str,
) -> Result<Evidence, StoreError> {
    let uses = store.inventory(since).await?;
    let heard = store.heard(HourWindow::since(since, now)).await?;
    let mut reported = Vec::new();
    let mut aside: BTreeMap<&'static str, u64> = BTreeMap::new();
    for row in store.reported_since(since).await? {
        if row.directive != directive || row.disposition != Disposition::Report {
            continue;
        }
        if !row.class.teaches() {
            *aside.entry(row.class.as_str()).or_default() += row.reports;
            continue;
        }
        match row.observation() {
            Some(o) => reported.push(o),
            None => *aside.entry("not an origin").or_default() += row.reports,
        }
    }
    let filtered = store.summary(1).await?.filtered;
    if filtered > 0 {
        aside.insert("noise (since the store began)", filtered);
    }
    let mut destinations: Vec<Origin> = uses.iter().map(|u| u.destination.clone()).collect();
    destinations.sort();
    destinations.dedup();
    let page_loads = if destinations.is_empty() {
        0.0
    } else {
        store.page_loads_reaching(&destinations, since).await?
    };
    let mut e = Evidence::new(uses, heard).reported(reported);
    e.page_loads = Some(page_loads);
    e.set_aside = aside.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Ok(e)
}

/// Whether `candidate` is ready to enforce on the evidence `store` holds from `since` to
/// `now`, as [`gate`](Gate) asks: [`evidence`] judged by
/// [`learn::readiness`](crate::learn::readiness).
///
/// # Errors
/// As [`evidence`].
pub async fn readiness_in(
    store: &dyn ReportStore,
    candidate: &ConnectSrc,
    gate: &Gate,
    since: SystemTime,
    now: SystemTime,
) -> Result<Readiness, StoreError> {
    let e = evidence(store, since, now).await?;
    Ok(readiness(candidate, &e, gate))
}

/// Whether the `Connection-Allowlist` value `candidate` is ready to enforce on the evidence
/// `store` holds from `since` to `now`: [`allowlist_evidence`] judged by
/// [`learn::allowlist_readiness`](crate::learn::allowlist_readiness).
///
/// # Errors
/// As [`evidence`].
pub async fn allowlist_readiness_in(
    store: &dyn ReportStore,
    candidate: &AllowlistPolicy,
    gate: &Gate,
    since: SystemTime,
    now: SystemTime,
) -> Result<Readiness, StoreError> {
    let e = allowlist_evidence(store, since, now).await?;
    Ok(allowlist_readiness(candidate, &e, gate))
}

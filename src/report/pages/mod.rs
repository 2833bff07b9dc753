//! The read side's pages: the summary as JSON and the HTML dashboard with its charts, its
//! views by destination and by page, the suggestion with its reasons, and the enforced
//! list's used and unused sources, served by
//! [`Collector::admin_router`](super::Collector::admin_router).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::Query;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

mod chart;
mod dashboard;
mod filter;
mod html;
mod inventory;
mod served;
mod style;
mod suggestion;
mod tables;
#[cfg(test)]
mod tests;

use super::store::{Activity, Group, GroupKey, HourWindow, ReportStore, StoreError, Summary};
use crate::learn::{unused, SourceUse};
use crate::policy::{Served, ServedPolicies};
use filter::Filter;
use inventory::{Inventory, INVENTORY_DAYS};
use served::Enforced;
use style::DASHBOARD_CSS;

/// A store that failed answers 500 with a plain-text reason, never a summary of zeros.
fn failed(e: &StoreError) -> Response {
    tracing::error!(target: "connect_src::report", error = %e, "report store failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        format!("the report store could not be read: {e}"),
    )
        .into_response()
}

/// What the dashboard reads from the store, and learns from it.
#[derive(Debug)]
pub(crate) struct Data {
    /// At most the collector's summary limit of groups.
    pub(crate) summary: Summary,
    /// The activity of the groups the filter keeps, over the last week.
    pub(crate) activity: Activity,
    /// What real pages used over the last [`INVENTORY_DAYS`] days.
    pub(crate) inventory: Inventory,
    /// The app's enforced list now.
    pub(crate) enforced: Enforced,
    /// The enforced list's sources judged against the inventory
    /// ([`learn::unused`](crate::learn::unused)), each with the page loads that reached it
    /// (each page load once, as `connect-src unused` counts them); `None` when there is no
    /// enforced list or no observation to judge by.
    pub(crate) sources: Option<Vec<(SourceUse, f64)>>,
}

/// Reads the page's data at `now`: the summary (at most `limit` groups), the activity of
/// the groups `filter` keeps over the last [`ACTIVITY_HOURS`](super::store::ACTIVITY_HOURS)
/// hours, the inventory of the last [`INVENTORY_DAYS`] days (a store that keeps none says
/// so), and the app's enforced list (from `served`) judged against it at `min_reach`. Any
/// read's error but [`StoreError::Unsupported`] for the inventory.
pub(crate) async fn read(
    store: &dyn ReportStore,
    limit: usize,
    filter: &Filter,
    served: Option<&[Served]>,
    min_reach: u64,
    now: SystemTime,
) -> Result<Data, StoreError> {
    let summary = store.summary(limit).await?;
    let keys: Vec<GroupKey> = summary
        .groups
        .iter()
        .filter(|g| filter.keeps(g))
        .map(Group::key)
        .collect();
    let window = HourWindow::ending_at(now, super::store::ACTIVITY_HOURS);
    let activity = store.activity(&keys, window).await?;
    let since = now
        .checked_sub(Duration::from_secs(INVENTORY_DAYS * 24 * 3600))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let inventory = match store.inventory(since).await {
        Ok(uses) => Inventory::Read { since, uses },
        Err(e @ StoreError::Unsupported(_)) => Inventory::Unsupported(e.to_string()),
        Err(e) => return Err(e),
    };
    let enforced = served::enforced(served);
    let sources = match (enforced.list(), inventory.uses()) {
        (Some(list), uses) if !uses.is_empty() => {
            let mut out = Vec::new();
            for u in unused(list, uses, min_reach) {
                let loads = if u.destinations.is_empty() {
                    0.0
                } else {
                    match store.page_loads_reaching(&u.destinations, since).await {
                        Ok(n) => n,
                        Err(StoreError::Unsupported(_)) => u.page_loads,
                        Err(e) => return Err(e),
                    }
                };
                out.push((u, loads));
            }
            Some(out)
        }
        _ => None,
    };
    Ok(Data {
        summary,
        activity,
        inventory,
        enforced,
        sources,
    })
}

/// `GET <base>/summary`, `GET <base>/dashboard` and `GET <base>/dashboard.css` over `store`,
/// showing at most `limit` groups; `served` is what the dashboard's suggestion starts from
/// and the enforced list it judges, `min_reach` the least reach learning counts.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(
    store: Arc<dyn ReportStore>,
    base: &str,
    limit: usize,
    served: Option<ServedPolicies>,
    min_reach: u64,
) -> Router<S> {
    let s1 = store.clone();
    Router::new()
        .route(
            &format!("{base}/summary"),
            get(move || async move {
                let summary = s1.summary(limit).await.map_err(|e| failed(&e))?;
                Ok::<_, Response>((
                    [
                        (CONTENT_TYPE, HeaderValue::from_static("application/json")),
                        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
                    ],
                    summary.to_json(),
                ))
            }),
        )
        .route(
            &format!("{base}/dashboard"),
            get(
                move |Query(params): Query<HashMap<String, String>>| async move {
                    let filter = Filter::from_query(&params);
                    let served = served.as_ref().map(ServedPolicies::snapshot);
                    let data = read(
                        &*store,
                        limit,
                        &filter,
                        served.as_deref(),
                        min_reach,
                        SystemTime::now(),
                    )
                    .await
                    .map_err(|e| failed(&e))?;
                    Ok::<_, Response>(dashboard::response(dashboard::render(&dashboard::Page {
                        title: "CSP violation reports",
                        data: &data,
                        filter: &filter,
                        served: served.as_deref(),
                        min_reach,
                    })))
                },
            ),
        )
        .route(
            &format!("{base}/dashboard.css"),
            get(|| async {
                (
                    [
                        (CONTENT_TYPE, HeaderValue::from_static("text/css")),
                        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
                    ],
                    DASHBOARD_CSS,
                )
            }),
        )
}

//! The read side's pages: the summary as JSON and the HTML dashboard with its charts and
//! suggestion, served by [`Collector::admin_router`](super::Collector::admin_router).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Query;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

mod chart;
mod dashboard;

use super::store::{ReportStore, StoreError};
use crate::policy::ServedPolicies;
use dashboard::DASHBOARD_CSS;

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

/// `GET <base>/summary`, `GET <base>/dashboard` and `GET <base>/dashboard.css` over `store`,
/// showing at most `limit` groups; `served` is what the dashboard's suggestion starts from.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(
    store: Arc<dyn ReportStore>,
    base: &str,
    limit: usize,
    served: Option<ServedPolicies>,
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
                    let filter = dashboard::Filter::from_query(&params);
                    let (summary, activity) = dashboard::read(&*store, limit, &filter)
                        .await
                        .map_err(|e| failed(&e))?;
                    Ok::<_, Response>(dashboard::response(dashboard::render(&dashboard::Page {
                        title: "CSP violation reports",
                        summary: &summary,
                        activity: &activity,
                        filter: &filter,
                        served: served.as_ref(),
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

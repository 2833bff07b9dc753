//! The HTML dashboard. Every value in it was written by whoever sent a report, so each one is
//! escaped, the page runs no script, and it is served under its own strict CSP
//! ([`DASHBOARD_CSP`]): even a missed escape could not run code.
//!
//! The page: the counts, the week's chart, a table by destination (default) or by page,
//! then the suggested `connect-src` with its reasons, the app's enforced list source by
//! source (used, unused, redundant), and what real pages used (the inventory).

use std::collections::BTreeSet;

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::chart::{last_hours, overall_chart};
use super::filter::{Filter, View};
use super::html::{escape_html, url_html};
use super::inventory::{inventory_section, sources_section};
use super::style::DASHBOARD_CSP;
use super::suggestion::suggestion_section;
use super::tables::{destinations, table};
use super::Data;
use crate::policy::{FinalPolicy, Served};
use crate::report::store::{Class, Group, ACTIVITY_HOURS};

/// The page as a response: HTML under [`DASHBOARD_CSP`], not sniffed, sending no referrer,
/// never cached. Marked [`FinalPolicy`]: a `CspLayer` around the collector's routes leaves
/// the dashboard's own policy alone (a merge would replace its `connect-src`).
pub(crate) fn response(html: String) -> Response {
    (
        Extension(FinalPolicy),
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(DASHBOARD_CSP),
            ),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        html,
    )
        .into_response()
}

/// What the page shows: the store's data, the filter, the policies the app serves (for the
/// suggestion's base and the enforced list), and the minimum reach learning uses.
#[derive(Debug)]
pub(crate) struct Page<'a> {
    pub(crate) title: &'a str,
    pub(crate) data: &'a Data,
    pub(crate) filter: &'a Filter,
    pub(crate) served: Option<&'a [Served]>,
    pub(crate) min_reach: u64,
}

/// Most directive filter links (the summary's directives, sorted).
const MAX_DIRECTIVE_LINKS: usize = 32;

/// What reach means, said once above the table.
const REACH: &str = "<p class=\"reach\"><b>Reach</b>: how many distinct client networks (a \
    keyed hash of each sender&#x27;s /24 or /48, never the address) reported it; one client, \
    however many reports it sends, is a reach of 1. Rows are ranked by reach, then count; a \
    destination&#x27;s reach is that of its widest page.</p>";

/// Renders the dashboard page, showing the groups `filter` keeps in its view.
pub(crate) fn render(page: &Page<'_>) -> String {
    let Page {
        title,
        data,
        filter,
        served,
        min_reach,
    } = page;
    let summary = &data.summary;
    let kept: Vec<&Group> = summary.groups.iter().filter(|g| filter.keeps(g)).collect();
    let destination_count = destinations(kept.iter().copied()).len();
    let (rows, _) = table(&kept, &data.activity, filter);
    let classes: Vec<&str> = Class::ALL.iter().map(|c| c.as_str()).collect();
    let directives: Vec<&str> = summary
        .groups
        .iter()
        .map(|g| g.directive.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .take(MAX_DIRECTIVE_LINKS)
        .collect();
    let only = filter.get("destination").map_or_else(String::new, |d| {
        format!(
            "<p class=\"filter\"><span class=\"key\">destination:</span> <code>{}</code> \
             <a href=\"{}\">all destinations</a></p>",
            url_html(d),
            escape_html(&filter.with("destination", None).href())
        )
    });
    let filters = format!(
        "<div class=\"filters\">{only}{}{}{}</div>",
        filter.links("class", &classes),
        filter.links("disposition", &["enforce", "report", "unknown"]),
        filter.links("directive", &directives)
    );
    let (cards, overall) = match data.activity.window() {
        Some(w) => {
            let hourly = last_hours(data.activity.total(), w);
            let day: u64 = hourly[ACTIVITY_HOURS - 24..].iter().sum();
            let week: u64 = hourly.iter().sum();
            (
                format!(
                    "<div class=\"card\" id=\"day\"><b>{day}</b>in the last 24 hours</div>\
                     <div class=\"card\" id=\"week\"><b>{week}</b>in the last 7 days</div>"
                ),
                format!(
                    "<h2>Every group, last 7 days, by hour (UTC)</h2><div class=\"overall\">{}</div>",
                    overall_chart(&hourly, w)
                ),
            )
        }
        None => (String::new(), String::new()),
    };
    let what = match filter.view {
        View::Destinations => "One row per blocked destination (its pages folded together)",
        View::Pages => {
            "One row per directive, blocked origin, page (ids in paths as <code>{id}</code>), \
             disposition and class"
        }
    };
    let enforced = &data.enforced;
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"dashboard.css\"></head><body>\
         <h1>{title}</h1><p class=\"lead\">{what}, checked against the policies the app \
         served. Every value below was written by a browser (or an attacker) and is shown as \
         text.</p><div class=\"cards\"><div class=\"card\" id=\"total\"><b>{}</b>violations \
         stored</div><div class=\"card\" id=\"filtered\"><b>{}</b>filtered as noise</div>\
         {cards}<div class=\"card\" id=\"destinations\"><b>{destination_count}</b>\
         destinations shown</div><div class=\"card\" id=\"groups\"><b>{}</b>groups shown\
         </div></div>{overall}{}{filters}{REACH}{rows}<div class=\"panels\">{}{}{}</div>\
         </body></html>\n",
        summary.total,
        summary.filtered,
        kept.len(),
        filter.tabs(),
        suggestion_section(summary, *served, enforced, &data.inventory, *min_reach),
        sources_section(enforced, &data.inventory, data.sources.as_deref()),
        inventory_section(&data.inventory, *min_reach),
        title = escape_html(title),
    )
}

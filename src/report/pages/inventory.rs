//! The dashboard's inventory sections: what real pages used (a store's
//! [`inventory`](crate::report::store::ReportStore::inventory)), and the app's enforced
//! list source by source ([`learn::unused`](crate::learn::unused)): used, unused for the
//! window, or redundant with another source.

use std::time::SystemTime;

use super::html::{approx, count_of, escape_html, time_html, url_html};
use super::served::Enforced;
use crate::learn::{DestinationUse, SourceUse};
use crate::matcher::Engine;
use crate::source::Origin;

/// How far back the inventory is read, in days: the window "unused for 30 days" speaks of.
pub(crate) const INVENTORY_DAYS: u64 = 30;

/// Most inventory rows shown (a store keeps up to its group cap); the rest are counted.
const MAX_ROWS: usize = 200;

/// What the store answered for the inventory.
#[derive(Debug)]
pub(crate) enum Inventory {
    /// It keeps none: [`StoreError::Unsupported`](crate::report::store::StoreError)'s text.
    Unsupported(String),
    /// What real pages used since `since`, most page loads first.
    Read {
        since: SystemTime,
        uses: Vec<DestinationUse>,
    },
}

impl Inventory {
    /// The uses read (none when the store keeps no inventory).
    pub(crate) fn uses(&self) -> &[DestinationUse] {
        match self {
            Inventory::Read { uses, .. } => uses,
            Inventory::Unsupported(_) => &[],
        }
    }
}

/// A use's reach, as learning counts it: distinct client networks, and no more than its
/// distinct sampled page loads.
fn reach(u: &DestinationUse) -> u64 {
    u.networks.min(u.sampled_page_loads)
}

/// `<code>` URLs, space-separated.
fn origins(list: &[Origin]) -> String {
    list.iter()
        .map(|o| format!("<code>{}</code>", url_html(o.as_str())))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The inventory section: what real pages connected to, or why nothing is shown.
pub(crate) fn inventory_section(inventory: &Inventory, min_reach: u64) -> String {
    let title = format!("<h2>What real pages used, last {INVENTORY_DAYS} days</h2>");
    let (since, uses) = match inventory {
        Inventory::Unsupported(why) => {
            return format!(
                "<section class=\"panel wide inventory\">{title}<p class=\"none\">No \
                 inventory: {}.</p></section>",
                escape_html(why)
            )
        }
        Inventory::Read { since, uses } => (*since, uses),
    };
    if uses.is_empty() {
        return format!(
            "<section class=\"panel wide inventory\">{title}<p class=\"none\">No inventory \
             observations since {}. Turn the inventory on (<code>PolicyBuilder::inventory\
             (0.01)</code> samples one response in a hundred) to see what pages really \
             connect to and which sources nothing uses.</p></section>",
            time_html(since)
        );
    }
    let first = uses.iter().map(|u| u.first_seen).min().unwrap_or(since);
    let last = uses.iter().map(|u| u.last_seen).max().unwrap_or(since);
    let mut rows = String::new();
    for u in uses.iter().take(MAX_ROWS) {
        let r = reach(u);
        let (class, mark) = if r < min_reach {
            (
                " class=\"low\"",
                format!(
                    "<span class=\"tag low\" title=\"{}\">below reach {min_reach}</span>",
                    escape_html(&format!(
                        "reach {r}: counted neither as use nor towards the suggestion"
                    ))
                ),
            )
        } else {
            ("", String::new())
        };
        let mut engines: Vec<Engine> = u.engines.clone();
        engines.sort_by_key(|e| Engine::ALL.iter().position(|a| a == e));
        let engines: Vec<&str> = engines.iter().map(|e| e.as_str()).collect();
        rows.push_str(&format!(
            "<tr{class}><td class=\"url\"><code>{}</code> {mark}</td><td class=\"url\">{}</td>\
             <td class=\"num loads\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td><td>{}</td></tr>\n",
            url_html(u.destination.as_str()),
            u.document_origin.as_ref().map_or_else(
                || "(none)".to_owned(),
                |d| format!("<code>{}</code>", url_html(d.as_str()))
            ),
            approx(u.page_loads),
            u.sampled_page_loads,
            u.networks,
            if engines.is_empty() {
                "unknown".to_owned()
            } else {
                escape_html(&engines.join(", "))
            },
            time_html(u.last_seen),
        ));
    }
    let more = if uses.len() > MAX_ROWS {
        format!(
            "<p class=\"meta\">And {} more, of fewer page loads.</p>",
            uses.len() - MAX_ROWS
        )
    } else {
        String::new()
    };
    format!(
        "<section class=\"panel wide inventory\">{title}<p class=\"meta\">Observations from \
         {} to {}: each sampled page load reports every connection it makes, and counts for \
         1/rate page loads (≈). Below a reach of {min_reach} (networks, and sampled page \
         loads) a destination is shown but counts neither as use nor for the suggestion.</p>\
         <table class=\"uses\"><colgroup><col class=\"c-dest\"><col class=\"c-from\">\
         <col class=\"n-loads\"><col class=\"n-sampled\"><col class=\"n-nets\">\
         <col class=\"c-engines\"><col class=\"c-time\"></colgroup><thead><tr>\
         <th>destination</th><th>from page origin</th><th class=\"num\">page loads</th>\
         <th class=\"num\">sampled</th><th class=\"num\">networks</th><th>engines</th>\
         <th>last seen</th></tr></thead><tbody>\n{rows}</tbody></table>{more}</section>",
        time_html(first),
        time_html(last),
    )
}

/// The enforced list's section: each source used, unused or redundant (with
/// `page_loads` each, counted once per page load), or why none can be judged.
pub(crate) fn sources_section(
    enforced: &Enforced,
    inventory: &Inventory,
    sources: Option<&[(SourceUse, f64)]>,
) -> String {
    let title = "<h2>The enforced connect-src, source by source</h2>";
    let said = match (enforced, inventory, sources) {
        (Enforced::None(why), ..) => format!("No enforced list to judge: {}.", escape_html(why)),
        (Enforced::Unreadable(e), ..) => format!(
            "The app&#x27;s enforced connect-src could not be read: {}.",
            escape_html(e)
        ),
        (_, Inventory::Unsupported(_), _) => {
            "Without an inventory, no source can be shown used or unused.".to_owned()
        }
        (_, _, None) => "No inventory observations to judge the sources by.".to_owned(),
        (Enforced::Listed(listed), _, Some(sources)) => {
            return sources_table(&listed.list.value(), &listed.left_out, sources)
        }
    };
    format!("<section class=\"panel sources\">{title}<p class=\"none\">{said}</p></section>")
}

fn sources_table(value: &str, left_out: &[String], sources: &[(SourceUse, f64)]) -> String {
    let mut rows = String::new();
    let unused = sources.iter().filter(|(s, _)| !s.used).count() as u64;
    for (s, loads) in sources {
        let source = format!("<code>{}</code>", url_html(&s.source.to_string()));
        let status = match (&s.redundant_with, s.used) {
            (_, false) => {
                format!("<span class=\"tag unused\">unused for {INVENTORY_DAYS} days</span>")
            }
            (Some(other), true) => format!(
                "<span class=\"tag redundant\">redundant</span> with <code>{}</code>",
                url_html(&other.to_string())
            ),
            (None, true) => "<span class=\"tag used\">used</span>".to_owned(),
        };
        let below = if s.below_reach.is_empty() {
            String::new()
        } else {
            format!(
                "<span class=\"below\">below reach: {}</span>",
                origins(&s.below_reach)
            )
        };
        rows.push_str(&format!(
            "<tr class=\"source\"><td class=\"url\">{source}</td><td>{status}</td>\
             <td class=\"num loads\">{}</td><td class=\"url\">{}{below}</td></tr>\n",
            if s.used {
                approx(*loads)
            } else {
                "0".to_owned()
            },
            origins(&s.destinations),
        ));
    }
    let left_out = if left_out.is_empty() {
        String::new()
    } else {
        format!(
            " Left out, not sources: <code>{}</code>.",
            escape_html(&left_out.join(" "))
        )
    };
    format!(
        "<section class=\"panel sources\"><h2>The enforced connect-src, source by source</h2>\
         <p class=\"meta\">The app&#x27;s enforced list now: <code class=\"enforced\">{}</code>\
         .{left_out} {} unused: nothing real pages did in the window needed {}. A redundant \
         source&#x27;s destinations are all matched by another one too.</p>\
         <table class=\"judged\"><colgroup><col class=\"c-source\"><col class=\"c-status\">\
         <col class=\"n-loads\"><col class=\"c-through\"></colgroup><thead><tr><th>source</th>\
         <th>status</th><th class=\"num\">page loads</th><th>reached through it</th></tr></thead><tbody>\n{rows}</tbody></table></section>",
        url_html(value),
        count_of(unused, "source", "sources"),
        if unused == 1 { "it" } else { "them" },
    )
}

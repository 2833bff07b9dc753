//! The dashboard's two tables: by destination (the summary's groups folded by blocked
//! origin) and by page (one row per group). Rows keep the summary's ranking: widest reach
//! first, then most violations.

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::chart::{group_charts, last_hours};
use super::filter::{Filter, View};
use super::html::{count_of, escape_html, time_html, url_html};
use crate::report::store::{Activity, Blocked, Class, Disposition, Group, ACTIVITY_HOURS};

/// The dispositions, in the order tags show them.
const DISPOSITIONS: [Disposition; 3] = [
    Disposition::Enforce,
    Disposition::Report,
    Disposition::Unknown,
];

/// One blocked destination: the groups that name it, folded together.
#[derive(Debug)]
pub(crate) struct Destination<'a> {
    pub(crate) blocked: &'a Blocked,
    /// Violations, all its groups'.
    pub(crate) count: u64,
    /// Its widest group's reach: networks are not added across groups (one network may
    /// be in several), so this is a lower bound, as learning counts it.
    pub(crate) reach: u64,
    pub(crate) directives: BTreeSet<&'a str>,
    /// Violations per disposition and per class, in [`DISPOSITIONS`] and [`Class::ALL`]
    /// order, those with none left out.
    pub(crate) dispositions: Vec<(Disposition, u64)>,
    pub(crate) classes: Vec<(Class, u64)>,
    pub(crate) pages: BTreeSet<&'a str>,
    pub(crate) first_seen: SystemTime,
    pub(crate) last_seen: SystemTime,
    /// The sample of its first group (the widest reach).
    pub(crate) sample: &'a str,
    pub(crate) groups: Vec<&'a Group>,
}

/// The groups folded by blocked destination, widest reach first, then most violations,
/// then by text.
pub(crate) fn destinations<'a>(
    groups: impl IntoIterator<Item = &'a Group>,
) -> Vec<Destination<'a>> {
    let mut out: Vec<Destination<'a>> = Vec::new();
    for g in groups {
        let d = match out.iter_mut().position(|d| *d.blocked == g.blocked_origin) {
            Some(i) => &mut out[i],
            None => {
                out.push(Destination {
                    blocked: &g.blocked_origin,
                    count: 0,
                    reach: 0,
                    directives: BTreeSet::new(),
                    dispositions: Vec::new(),
                    classes: Vec::new(),
                    pages: BTreeSet::new(),
                    first_seen: g.first_seen,
                    last_seen: g.last_seen,
                    sample: &g.sample,
                    groups: Vec::new(),
                });
                out.last_mut().expect("just pushed")
            }
        };
        d.count = d.count.saturating_add(g.count);
        d.reach = d.reach.max(g.reach);
        d.directives.insert(&g.directive);
        d.pages.insert(&g.document_path);
        d.first_seen = d.first_seen.min(g.first_seen);
        d.last_seen = d.last_seen.max(g.last_seen);
        add(&mut d.dispositions, g.disposition, g.count);
        add(&mut d.classes, g.class, g.count);
        d.groups.push(g);
    }
    for d in &mut out {
        d.dispositions
            .sort_by_key(|(x, _)| DISPOSITIONS.iter().position(|y| y == x));
        d.classes
            .sort_by_key(|(x, _)| Class::ALL.iter().position(|y| y == x));
    }
    out.sort_by(|a, b| {
        b.reach
            .cmp(&a.reach)
            .then_with(|| b.count.cmp(&a.count))
            .then_with(|| a.blocked.cmp(b.blocked))
    });
    out
}

fn add<T: PartialEq>(counts: &mut Vec<(T, u64)>, what: T, n: u64) {
    match counts.iter_mut().find(|(x, _)| *x == what) {
        Some((_, c)) => *c = c.saturating_add(n),
        None => counts.push((what, n)),
    }
}

/// A line of tags, one per value with its count (`report 3`), its class naming the value
/// for colour.
fn tags(values: impl IntoIterator<Item = (&'static str, u64)>, counted: bool) -> String {
    let tags: String = values
        .into_iter()
        .map(|(v, n)| {
            if counted {
                format!("<span class=\"tag {v}\">{v} {n}</span>")
            } else {
                format!("<span class=\"tag {v}\">{v}</span>")
            }
        })
        .collect();
    format!("<span class=\"tags\">{tags}</span>")
}

/// The blocked destination's cell: the origin (or keyword), and one reported URL below it.
fn destination_cell(blocked: &Blocked, sample: &str) -> String {
    let sample = if sample.is_empty() || sample == blocked.as_str() {
        String::new()
    } else {
        format!("<span class=\"sample\">{}</span>", url_html(sample))
    };
    format!(
        "<td class=\"url\"><code>{}</code>{sample}</td>",
        url_html(blocked.as_str())
    )
}

/// The table columns, as `<col>` classes and headers (`num` headers right-aligned).
fn head(columns: &[(&str, &str)]) -> String {
    let cols: String = columns
        .iter()
        .map(|(c, _)| format!("<col class=\"{c}\">"))
        .collect();
    let heads: String = columns
        .iter()
        .map(|(c, h)| {
            if c.starts_with("n-") {
                format!("<th class=\"num\">{h}</th>")
            } else {
                format!("<th>{h}</th>")
            }
        })
        .collect();
    format!("<colgroup>{cols}</colgroup><thead><tr>{heads}</tr></thead>")
}

/// The chart columns, when the store keeps activity.
const CHART_COLUMNS: [(&str, &str); 2] = [("c-chart", "last 24 h"), ("c-chart", "last 7 days")];

/// The table of `view` over the groups `filter` keeps, with charts from `activity` when it
/// has a window; and how many rows it has.
pub(crate) fn table(groups: &[&Group], activity: &Activity, filter: &Filter) -> (String, usize) {
    let charts = activity.window().map(|w| (w, activity));
    let chart_cells = |of: &[&Group]| {
        charts.map(|(w, a)| {
            let mut hourly = vec![0u64; ACTIVITY_HOURS];
            for g in of {
                let series = last_hours(a.group(&g.key()).unwrap_or(&[]), w);
                for (sum, n) in hourly.iter_mut().zip(series) {
                    *sum = sum.saturating_add(n);
                }
            }
            group_charts(&hourly, w)
        })
    };
    let mut columns: Vec<(&str, &str)> = match filter.view {
        View::Destinations => vec![
            ("c-dest", "destination"),
            ("n-reach", "reach"),
            ("n-count", "count"),
        ],
        View::Pages => vec![
            ("c-dest", "destination"),
            ("c-page", "page"),
            ("c-directive", "directive"),
            ("c-kind", "disposition, class"),
            ("n-reach", "reach"),
            ("n-count", "count"),
        ],
    };
    if charts.is_some() {
        columns.extend(CHART_COLUMNS);
    }
    match filter.view {
        View::Destinations => columns.extend([
            ("c-directive", "directives"),
            ("c-kind", "disposition, class"),
            ("n-pages", "pages"),
            ("c-time", "last seen"),
        ]),
        View::Pages => columns.push(("c-time", "last seen")),
    }
    let mut rows = String::new();
    let n = match filter.view {
        View::Destinations => {
            let all = destinations(groups.iter().copied());
            for d in &all {
                let pages = d.pages.len() as u64;
                rows.push_str(&format!(
                    "<tr class=\"dest\">{}<td class=\"num reach\">{}</td>\
                     <td class=\"num count\">{}</td>{}<td>{}</td><td>{}{}</td>\
                     <td class=\"num\"><a href=\"{}\" title=\"{}\">{pages}</a></td>\
                     <td>{}</td></tr>\n",
                    destination_cell(d.blocked, d.sample),
                    d.reach,
                    d.count,
                    chart_cells(&d.groups).unwrap_or_default(),
                    d.directives
                        .iter()
                        .map(|x| format!("<code>{}</code>", escape_html(x)))
                        .collect::<Vec<_>>()
                        .join(" "),
                    tags(d.dispositions.iter().map(|(x, n)| (x.as_str(), *n)), true),
                    tags(d.classes.iter().map(|(x, n)| (x.as_str(), *n)), true),
                    escape_html(
                        &filter
                            .in_view(View::Pages)
                            .with("destination", Some(d.blocked.as_str()))
                            .href()
                    ),
                    escape_html(&format!("{}: by page", count_of(pages, "page", "pages"))),
                    time_html(d.last_seen),
                ));
            }
            all.len()
        }
        View::Pages => {
            for g in groups {
                let (disp, class) = (g.disposition.as_str(), g.class.as_str());
                rows.push_str(&format!(
                    "<tr class=\"group\">{}<td class=\"url\"><code>{}</code></td>\
                     <td><code>{}</code></td><td>{}</td><td class=\"num reach\">{}</td>\
                     <td class=\"num count\">{}</td>{}<td>{}<span class=\"first\">since {}\
                     </span></td></tr>\n",
                    destination_cell(&g.blocked_origin, &g.sample),
                    url_html(&g.document_path),
                    escape_html(&g.directive),
                    tags([(disp, 0)], false) + &tags([(class, 0)], false),
                    g.reach,
                    g.count,
                    chart_cells(&[g]).unwrap_or_default(),
                    time_html(g.last_seen),
                    time_html(g.first_seen),
                ));
            }
            groups.len()
        }
    };
    if rows.is_empty() {
        rows.push_str(&format!(
            "<tr><td colspan=\"{}\" class=\"empty\">No violations here.</td></tr>",
            columns.len()
        ));
    }
    let class = match filter.view {
        View::Destinations => "destinations",
        View::Pages => "pages",
    };
    (
        format!(
            "<table class=\"{class}\">{}<tbody>\n{rows}</tbody></table>",
            head(&columns)
        ),
        n,
    )
}

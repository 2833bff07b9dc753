//! The suggested `connect-src`, with its reasons: what to add (with the reach and page
//! loads behind each addition) and what was not proposed, and why. Computed as
//! `connect-src suggest` computes it: [`Summary::teaching`] plus the inventory's
//! observations, never beyond the app's enforced list, at the configured minimum reach.

use super::html::{count_of, escape_html, url_html};
use super::inventory::Inventory;
use super::served::{base, Base, Enforced};
use crate::learn::{suggest, Observation, SuggestOptions, Suggestion, Why};
use crate::policy::{ConnectSrc, Served};
use crate::report::store::{Summary, Teaching};

/// Most destinations listed as not proposed; the rest are counted.
const MAX_NOT_ADDED: usize = 30;

/// The suggestion's inputs, as `connect-src suggest` reads them.
pub(crate) fn compute(
    list: &ConnectSrc,
    teaching: Teaching,
    inventory: &Inventory,
    enforced: Option<&ConnectSrc>,
    min_reach: u64,
) -> Suggestion {
    let mut options = SuggestOptions::default().min_reach(min_reach);
    if let Some(e) = enforced {
        options = options.enforced(e.clone());
    }
    let observed = teaching
        .observations
        .into_iter()
        .chain(inventory.uses().iter().map(Observation::from_use));
    suggest(list, observed, &options)
}

/// Shell-quotes a value for the command line shown: in double quotes (a list's `'self'`
/// reads as it is), or, when it holds a character double quotes do not protect, in single
/// quotes with `'\''` for each one inside.
fn quoted(value: &str) -> String {
    if value.contains(['"', '$', '`', '\\', '!']) {
        format!("'{}'", value.replace('\'', r"'\''"))
    } else {
        format!("\"{value}\"")
    }
}

/// The suggestion's panel.
pub(crate) fn suggestion_section(
    summary: &Summary,
    served: Option<&[Served]>,
    enforced: &Enforced,
    inventory: &Inventory,
    min_reach: u64,
) -> String {
    let self_only = || ConnectSrc::builder().self_origin().build().ok();
    let (list, said) = match base(served) {
        Base::Served {
            listed,
            report_only,
        } => {
            let which = if report_only {
                "the report-only policy the app serves now"
            } else {
                "the policy the app serves now (enforced: it serves no report-only one)"
            };
            let mut said = format!("From the connect-src of {which}.");
            if !listed.left_out.is_empty() {
                said.push_str(&format!(
                    " Left out, not sources: <code>{}</code>.",
                    escape_html(&listed.left_out.join(" "))
                ));
            }
            (Some(listed.list), said)
        }
        Base::Unknown => (
            self_only(),
            "No served policy is known (give the collector the policies the app serves), so \
             this starts from <code>&#x27;self&#x27;</code>."
                .to_owned(),
        ),
        Base::Unreadable(why) => (
            self_only(),
            format!(
                "The served policy&#x27;s connect-src could not be read ({}), so this starts \
                 from <code>&#x27;self&#x27;</code>.",
                escape_html(&why)
            ),
        ),
    };
    let Some(list) = list else {
        return String::new();
    };
    let teaching = summary.teaching();
    let distrusted = teaching.distrusted.clone();
    let not_origins = teaching.not_origins;
    let s = compute(&list, teaching, inventory, enforced.list(), min_reach);
    let limit = match enforced.list() {
        Some(e) => format!(
            "<p>Enforced now: <code class=\"enforced\">{}</code>: nothing it blocks is \
             proposed (the site already works without it).</p>",
            url_html(&e.value())
        ),
        None => "<p class=\"meta\">No enforced list is known: a destination it would block \
                 could be proposed.</p>"
            .to_owned(),
    };
    let additions = if s.additions.is_empty() {
        "<p class=\"nothing\">Nothing to add.</p>".to_owned()
    } else {
        let items: String = s
            .additions
            .iter()
            .map(|a| format!("<li>{}</li>", escape_html(&a.to_string())))
            .collect();
        format!("<p>To add:</p><ul class=\"additions\">{items}</ul>")
    };
    let mut reasons = String::new();
    let shown: Vec<_> = s
        .not_added
        .iter()
        .filter(|n| n.why != Why::AlreadyAllowed)
        .collect();
    for n in shown.iter().take(MAX_NOT_ADDED) {
        reasons.push_str(&format!(
            "<li><code>{}</code>: {} <span class=\"meta\">({}, reach {})</span></li>",
            url_html(n.destination.as_str()),
            escape_html(&n.why.to_string()),
            count_of(n.reports, "report", "reports"),
            n.reach,
        ));
    }
    if shown.len() > MAX_NOT_ADDED {
        reasons.push_str(&format!(
            "<li class=\"meta\">and {} more (<code>connect-src suggest</code> lists them \
             all)</li>",
            shown.len() - MAX_NOT_ADDED
        ));
    }
    let allowed = s
        .not_added
        .iter()
        .filter(|n| n.why == Why::AlreadyAllowed)
        .count() as u64;
    let mut notes = Vec::new();
    if allowed > 0 {
        notes.push(format!(
            "{} already allowed.",
            count_of(allowed, "destination", "destinations")
        ));
    }
    for (covered, by) in &s.covered {
        notes.push(format!(
            "Left out <code>{}</code>: <code>{}</code> covers it.",
            url_html(&covered.to_string()),
            url_html(&by.to_string())
        ));
    }
    for (class, n) in &distrusted {
        notes.push(format!(
            "Not learned from: {} classed {}.",
            count_of(*n, "report-only violation", "report-only violations"),
            class.as_str()
        ));
    }
    if not_origins > 0 {
        notes.push(format!(
            "Not learned from: {} of no origin (data, blob, inline).",
            count_of(
                not_origins,
                "report-only violation",
                "report-only violations"
            )
        ));
    }
    let not_added = if reasons.is_empty() {
        String::new()
    } else {
        format!("<h3>Not proposed, and why</h3><ul class=\"not-added\">{reasons}</ul>")
    };
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("<p class=\"meta\">{}</p>", notes.join(" "))
    };
    let mut command = format!(
        "connect-src suggest --db … --policy {} --min-reach {min_reach}",
        quoted(&list.value())
    );
    if let Some(e) = enforced.list() {
        command.push_str(&format!(" --enforced {}", quoted(&e.value())));
    }
    format!(
        "<section class=\"panel suggest\"><h2>Suggested connect-src</h2><p class=\"meta\">\
         {said}</p><p>Now: <code class=\"base\">{}</code></p>{limit}{additions}\
         <p>Suggested value:</p><pre class=\"value\">{}</pre>{not_added}{notes}\
         <p class=\"meta\">Learned from the report-only connect-src groups classed genuine \
         and from what real pages used (the inventory), whatever the filters, at a reach of \
         {min_reach} or more; the same as <code class=\"command\">{}</code>.</p></section>",
        url_html(&list.value()),
        escape_html(&s.policy.value()),
        escape_html(&command),
    )
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn the_command_line_quotes_as_a_shell_reads() {
        assert_eq!(
            quoted("'self' https://a.example"),
            "\"'self' https://a.example\""
        );
        assert_eq!(quoted("'self' $x"), r"''\''self'\'' $x'");
    }
}

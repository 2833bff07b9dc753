//! The dashboard's charts: inline SVG bar charts, drawn on the server. No script and no
//! `style` attribute (the dashboard's CSP allows neither): sizes and positions are SVG
//! presentation attributes, colours come from `dashboard.css` by class. Bars are scaled to
//! the chart's largest count; the baseline is always drawn, so an empty chart is a line.
//! Every text in a chart is made here (times, counts, labels) and escaped all the same.

use crate::report::store::{hour_start, rfc3339_text, HourWindow, ACTIVITY_HOURS};

/// Chart sizes, in CSS pixels: plot height (the baseline is one more), bar width, gap.
const SMALL: (u32, u32, u32) = (24, 4, 1);
const DAYS: (u32, u32, u32) = (24, 14, 3);
const OVERALL: (u32, u32, u32) = (48, 3, 1);

/// Escaped for HTML text and attribute values (the texts here hold no control characters).
fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_safe(s)
}

/// The window's counts as the last [`ACTIVITY_HOURS`] hours up to its last hour, oldest
/// first: a store's shorter answer is padded with zeros in front.
pub(crate) fn last_hours(counts: &[u64], window: HourWindow) -> Vec<u64> {
    let mut out = vec![0; ACTIVITY_HOURS];
    let n = counts.len().min(window.hours()).min(ACTIVITY_HOURS);
    out[ACTIVITY_HOURS - n..].copy_from_slice(&counts[counts.len() - n..]);
    out
}

/// A group's two chart cells: its last 24 hours by hour, its last 7 days by day (24-hour
/// blocks ending with the current hour), each with its total.
pub(crate) fn group_charts(hourly: &[u64], window: HourWindow) -> String {
    let day = &hourly[ACTIVITY_HOURS - 24..];
    let days: Vec<(u64, String)> = hourly
        .chunks(24)
        .enumerate()
        .map(|(i, c)| {
            let from =
                (window.last_hour() + 1).saturating_sub(ACTIVITY_HOURS as u64) + 24 * i as u64;
            let n: u64 = c.iter().sum();
            (
                n,
                format!(
                    "24 hours from {}: {}",
                    rfc3339_text(hour_start(from)),
                    plural(n)
                ),
            )
        })
        .collect();
    format!(
        "<td class=\"chart\">{}<span class=\"n\">{}</span></td>\
         <td class=\"chart\">{}<span class=\"n\">{}</span></td>",
        hour_chart(day, window, SMALL, "last 24 hours, by hour"),
        day.iter().sum::<u64>(),
        bar_chart(&days, DAYS, "last 7 days, by day"),
        hourly.iter().sum::<u64>(),
    )
}

/// A chart of hourly counts ending with the window's last hour.
fn hour_chart(counts: &[u64], window: HourWindow, size: (u32, u32, u32), label: &str) -> String {
    let first = (window.last_hour() + 1).saturating_sub(counts.len() as u64);
    let bars: Vec<(u64, String)> = counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let hour = hour_start(first + i as u64);
            (
                *n,
                format!("hour from {}: {}", rfc3339_text(hour), plural(*n)),
            )
        })
        .collect();
    bar_chart(&bars, size, label)
}

pub(crate) fn plural(n: u64) -> String {
    format!("{n} violation{}", if n == 1 { "" } else { "s" })
}

/// A bar's height in pixels: its count relative to the chart's largest, rounded, at least
/// one pixel when the count is not 0; 0 when the chart is empty (no division by zero).
fn bar_height(count: u64, max: u64, height: u32) -> u32 {
    if count == 0 || max == 0 {
        return 0;
    }
    let h = (u128::from(count) * u128::from(height) + u128::from(max) / 2) / u128::from(max);
    (h as u32).clamp(1, height)
}

/// An inline SVG bar chart (no script, no `style` attribute: the page's CSP allows
/// neither): sizes and positions as presentation attributes, colours from `dashboard.css`
/// by class. Bars are scaled to the largest count; the baseline is always drawn, so an
/// empty chart is a line. Each bar's `<title>` is its tooltip (escaped like everything).
fn bar_chart(bars: &[(u64, String)], (height, bar, gap): (u32, u32, u32), label: &str) -> String {
    let max = bars.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let width = (bars.len() as u32 * (bar + gap)).max(1);
    let label = escape(label);
    let mut out = format!(
        "<svg class=\"chart\" width=\"{width}\" height=\"{h}\" viewBox=\"0 0 {width} {h}\" \
         role=\"img\" aria-label=\"{label}\"><title>{label}</title>",
        h = height + 1
    );
    for (i, (n, tip)) in bars.iter().enumerate() {
        let h = bar_height(*n, max, height);
        if h > 0 {
            out.push_str(&format!(
                "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{bar}\" height=\"{h}\">\
                 <title>{}</title></rect>",
                i as u32 * (bar + gap),
                height - h,
                escape(tip)
            ));
        }
    }
    out.push_str(&format!(
        "<rect class=\"base\" x=\"0\" y=\"{height}\" width=\"{width}\" height=\"1\"></rect></svg>"
    ));
    out
}

/// The chart above the table: every violation of the last 7 days, by hour.
pub(crate) fn overall_chart(hourly: &[u64], window: HourWindow) -> String {
    hour_chart(
        hourly,
        window,
        OVERALL,
        "every violation, last 7 days, by hour",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_to_the_largest_and_an_empty_chart_is_a_baseline() {
        assert_eq!(bar_height(0, 0, 24), 0);
        assert_eq!(bar_height(3, 3, 24), 24);
        assert_eq!(bar_height(1, 3, 24), 8);
        assert_eq!(bar_height(2, 3, 24), 16);
        assert_eq!(bar_height(1, 1000, 24), 1, "a count is never invisible");
        assert_eq!(bar_height(u64::MAX, u64::MAX, 24), 24);
        let empty = bar_chart(&[(0, "a".into()), (0, "b".into())], SMALL, "x");
        assert!(!empty.contains("class=\"bar\""), "{empty}");
        assert!(empty.contains("<rect class=\"base\" x=\"0\" y=\"24\" width=\"10\" height=\"1\">"));
        let one = bar_chart(&[(0, "a".into()), (2, "<b>".into())], SMALL, "x");
        assert!(
            one.contains("<rect class=\"bar\" x=\"5\" y=\"0\" width=\"4\" height=\"24\"><title>&lt;b&gt;</title>"),
            "{one}"
        );
    }
}

//! One alert ([`Alert`]: a kind, a summary line, details) and the two bodies it is sent as
//! ([`AlertFormat`]: this crate's JSON, or Slack's incoming-webhook `{"text"}`). Every text
//! that goes in is cleaned and bounded here, whoever wrote it: control and invisible
//! formatting characters become U+FFFD, and each value is cut to a fixed length.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

/// The most bytes of the summary line.
const SUMMARY_MAX: usize = 300;
/// The most bytes of one text value in the details.
const VALUE_MAX: usize = 512;
/// The most entries in the details (more are ignored).
const DETAILS_MAX: usize = 32;
/// The most bytes of a detail's key.
const KEY_MAX: usize = 64;

/// What an alert is about: its `type` in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlertKind {
    /// A destination origin no earlier report or observation named reached the minimum
    /// reach: in genuine violations, or in the inventory (`new-destination`).
    NewDestination,
    /// An hour's reach (distinct client networks reporting violations) went over a
    /// multiple of the previous day's hourly mean, and over a floor (`spike`).
    Spike,
    /// No report and no observation for a while, after steady traffic: a broken pipeline
    /// must not look like a clean site (`silence`).
    Silence,
    /// Reports of a policy the app never served (class `foreign`) reached the minimum
    /// reach: a rewriting proxy, an injected `<meta>` policy, or forged reports
    /// (`foreign-policy`).
    ForeignPolicy,
    /// A staged rollout changed: it advanced a stage, was rolled back (the reason names
    /// what broke), finished or was aborted (`rollout`).
    Rollout,
}

impl AlertKind {
    /// `new-destination`, `spike`, `silence`, `foreign-policy` or `rollout`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::NewDestination => "new-destination",
            AlertKind::Spike => "spike",
            AlertKind::Silence => "silence",
            AlertKind::ForeignPolicy => "foreign-policy",
            AlertKind::Rollout => "rollout",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body an alert is POSTed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AlertFormat {
    /// `{"type":"…","summary":"…","details":{…}}` (`json`, the default).
    #[default]
    Json,
    /// Slack's incoming webhook: `{"text":"…"}`, the summary and one line per detail, with
    /// `&`, `<` and `>` escaped as Slack asks (`slack`).
    Slack,
}

impl AlertFormat {
    /// `json` or `slack`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertFormat::Json => "json",
            AlertFormat::Slack => "slack",
        }
    }
}

impl FromStr for AlertFormat {
    type Err = String;

    /// `json` or `slack` (ASCII case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(AlertFormat::Json),
            "slack" => Ok(AlertFormat::Slack),
            _ => Err(format!(
                "{:?} is not an alert format: give json or slack",
                clean(s, 32)
            )),
        }
    }
}

/// One alert: what it is about ([`AlertKind`]), one human line, and the facts as a JSON
/// object. Text given to it is cleaned (control and invisible formatting characters become
/// U+FFFD) and bounded (the summary to 300 bytes, each text value to 512, at most 32
/// details), so report text an attacker wrote can go in as it is.
///
/// ```
/// use connect_src::report::alert::{Alert, AlertFormat, AlertKind};
///
/// let alert = Alert::new(AlertKind::NewDestination, "new destination https://cdn.example")
///     .detail("destination", "https://cdn.example")
///     .detail("reach", 3);
/// let body = alert.body(AlertFormat::Json);
/// assert_eq!(body["type"], "new-destination");
/// assert_eq!(body["details"]["reach"], 3);
///
/// let slack = Alert::new(AlertKind::Spike, "<!channel> & co\u{7}").body(AlertFormat::Slack);
/// assert!(slack["text"].as_str().unwrap().contains("&lt;!channel&gt; &amp; co\u{fffd}"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    kind: AlertKind,
    summary: String,
    details: Map<String, Value>,
}

impl Alert {
    /// An alert of `kind` with this summary line (cleaned, bounded) and no details.
    pub fn new(kind: AlertKind, summary: impl AsRef<str>) -> Alert {
        Alert {
            kind,
            summary: clean(summary.as_ref(), SUMMARY_MAX),
            details: Map::new(),
        }
    }

    /// Adds a detail (any JSON value; text in it is cleaned and bounded, nested arrays and
    /// objects too). Past 32 details, more are ignored; a key given twice keeps the last.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Alert {
        let key = clean(key, KEY_MAX);
        if self.details.len() < DETAILS_MAX || self.details.contains_key(&key) {
            self.details.insert(key, cleaned(value.into(), 0));
        }
        self
    }

    /// What it is about.
    pub fn kind(&self) -> AlertKind {
        self.kind
    }

    /// The summary line.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// The details.
    pub fn details(&self) -> &Map<String, Value> {
        &self.details
    }

    /// The body it is POSTed as: `{"type","summary","details"}` for
    /// [`AlertFormat::Json`]; `{"text"}` for [`AlertFormat::Slack`], whose text is
    /// `connect-src <type>: <summary>` and then one `• key: value` line per detail, every
    /// part escaped for Slack (`&` `<` `>`).
    pub fn body(&self, format: AlertFormat) -> Value {
        match format {
            AlertFormat::Json => serde_json::json!({
                "type": self.kind.as_str(),
                "summary": self.summary,
                "details": self.details,
            }),
            AlertFormat::Slack => {
                let mut text = format!(
                    "*connect-src {}*: {}",
                    self.kind.as_str(),
                    slack_escape(&self.summary)
                );
                for (k, v) in &self.details {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    text.push_str(&format!("\n• {}: {}", slack_escape(k), slack_escape(&v)));
                }
                serde_json::json!({ "text": text })
            }
        }
    }
}

/// `text` with control characters and invisible formatting characters (zero-width ones,
/// bidirectional overrides and isolates, the byte order mark) replaced by U+FFFD, cut to at
/// most `max` bytes at a character boundary (ending with `…` when cut).
pub(crate) fn clean(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        let c = if c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
        {
            '\u{fffd}'
        } else {
            c
        };
        if out.len() + c.len_utf8() > max {
            // Room for the ellipsis (3 bytes).
            while out.len() + '…'.len_utf8() > max {
                out.pop();
            }
            out.push('…');
            return out;
        }
        out.push(c);
    }
    out
}

/// A JSON value with its text cleaned and bounded; nesting past 4 levels is cut to `null`,
/// arrays and objects to 32 entries.
fn cleaned(value: Value, depth: usize) -> Value {
    if depth > 4 {
        return Value::Null;
    }
    match value {
        Value::String(s) => Value::String(clean(&s, VALUE_MAX)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .take(DETAILS_MAX)
                .map(|v| cleaned(v, depth + 1))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .take(DETAILS_MAX)
                .map(|(k, v)| (clean(&k, KEY_MAX), cleaned(v, depth + 1)))
                .collect(),
        ),
        other => other,
    }
}

/// Slack's three: `&` → `&amp;`, `<` → `&lt;`, `>` → `&gt;` (its message formatting
/// reads `<…>` as links and mentions).
fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cleaned_and_bounded() {
        assert_eq!(
            clean("a\nb\u{202e}c\u{1b}[31m", 100),
            "a\u{fffd}b\u{fffd}c\u{fffd}[31m"
        );
        let long = "é".repeat(400);
        let c = clean(&long, 300);
        assert!(c.len() <= 300 && c.ends_with('…'), "{}", c.len());
        assert_eq!(clean("short", 5), "short");
        assert_eq!(clean("toolong", 5), "to…");
    }

    #[test]
    fn details_are_bounded_and_nested_text_cleaned() {
        let mut a = Alert::new(AlertKind::Silence, "x");
        for i in 0..40 {
            a = a.detail(&format!("k{i}"), i);
        }
        assert_eq!(a.details().len(), 32);
        let a = a.detail(
            "k0",
            serde_json::json!({"deep": ["\u{0}", "x".repeat(600)]}),
        );
        let v = &a.details()["k0"]["deep"];
        assert_eq!(v[0], "\u{fffd}");
        assert!(v[1].as_str().unwrap().len() <= 512);
    }

    #[test]
    fn the_two_bodies() {
        let a = Alert::new(AlertKind::ForeignPolicy, "policy <x> & y")
            .detail("policy", "connect-src <b>")
            .detail("reach", 2);
        assert_eq!(
            a.body(AlertFormat::Json),
            serde_json::json!({"type":"foreign-policy","summary":"policy <x> & y",
                "details":{"policy":"connect-src <b>","reach":2}})
        );
        assert_eq!(
            a.body(AlertFormat::Slack)["text"],
            "*connect-src foreign-policy*: policy &lt;x&gt; &amp; y\n• policy: connect-src \
             &lt;b&gt;\n• reach: 2"
        );
        assert_eq!("SLACK".parse::<AlertFormat>(), Ok(AlertFormat::Slack));
        assert!("xml".parse::<AlertFormat>().is_err());
    }
}

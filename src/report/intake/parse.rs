//! Report bodies → [`Violation`]s: every shape browsers send — the legacy `report-uri`
//! object (CSP3 §5.3, and WebKit's wrapped form), the Reporting API array and a single
//! Reporting API object (Safari), kebab-case and camelCase field names, numbers as strings,
//! nulls, keyword blocked URIs — as Sentry Relay's and go-csp-collector's parsers found them
//! in the field.
//!
//! ```
//! use connect_src::report::intake::{parse_reports, NormalizeOptions};
//! use connect_src::report::store::ReportFormat;
//!
//! let body = br#"{"csp-report":{"document-uri":"https://app.example/a?token=1",
//!   "violated-directive":"connect-src 'self'","blocked-uri":"https://evil.example/x?card=4111",
//!   "status-code":"200","disposition":"enforce"}}"#;
//! let parsed = parse_reports(body, &NormalizeOptions::default())?;
//! let v = &parsed.violations[0];
//! assert_eq!(v.effective_directive, "connect-src"); // from violated-directive's first word
//! assert_eq!(v.blocked_url, "https://evil.example/x"); // query stripped: secrets travel there
//! assert_eq!(v.document_url, "https://app.example/a");
//! assert_eq!(v.status_code, Some(200));
//! assert_eq!(v.format, ReportFormat::Legacy);
//! # Ok::<_, connect_src::report::intake::ParseError>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::policy::{text, CONNECTION_ALLOWLIST_DIRECTIVE};
use crate::report::store::{bound, Class, Disposition, ReportFormat, Violation};
use crate::source::Origin;

/// How reports are normalized.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NormalizeOptions {
    /// Remove `?query` and `#fragment` from every URL field (default true): tokens, session
    /// ids and card numbers travel in query strings.
    pub strip_query: bool,
    /// Longest kept string, in bytes (default 2048); longer ones are cut at a character
    /// boundary.
    pub max_field: usize,
    /// Most violations kept from one request (default 100); the rest are counted as dropped.
    pub max_reports: usize,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions {
            strip_query: true,
            max_field: 2048,
            max_reports: 100,
        }
    }
}

/// What one request body held.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Parsed {
    /// The CSP violations, normalized.
    pub violations: Vec<Violation>,
    /// Reports of other types in a Reporting API batch (deprecation, intervention, …).
    pub other_types: u64,
    /// CSP reports beyond [`NormalizeOptions::max_reports`].
    pub dropped: u64,
    /// CSP reports skipped as unusable: empty, or naming no CSP directive. When nothing
    /// else is in the body, the body is refused instead ([`ParseError::Unusable`]).
    pub invalid: u64,
}

/// Why a body is not a report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not UTF-8 JSON (message from the JSON parser, position included).
    Json(String),
    /// JSON, but not one of the report shapes.
    Shape(String),
    /// A report shape, but no report in it can be used: each is empty or names no
    /// directive CSP defines. `reports` is how many were refused.
    Unusable {
        /// How many CSP reports the body held, all unusable.
        reports: u64,
        /// What was wrong with the first one.
        reason: Unusable,
    },
}

/// Why one CSP report cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unusable {
    /// No field at all (`{"csp-report":{}}`, a `csp-violation` body with no CSP field).
    Empty,
    /// Neither `effective-directive` nor `violated-directive` starts with a directive
    /// name CSP defines.
    NoDirective,
    /// A report of a batch that cannot be read as one: a repeated field, a lone surrogate,
    /// a value of the wrong type (the batch's other reports are kept).
    Unreadable,
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unusable::Empty => "the report is empty",
            Unusable::NoDirective => {
                "the report names no CSP directive (effective-directive or violated-directive must start with one, e.g. connect-src)"
            }
            Unusable::Unreadable => {
                "the report cannot be read (a repeated field, a lone surrogate or a value of the wrong type)"
            }
        })
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Json(e) => write!(f, "malformed JSON: {e}"),
            ParseError::Shape(e) => write!(f, "not a CSP report: {e}"),
            ParseError::Unusable { reports: 1, reason } => {
                write!(f, "not a usable CSP report: {reason}")
            }
            ParseError::Unusable { reports, reason } => write!(
                f,
                "none of the {reports} CSP reports is usable; the first: {reason}"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// A string field that may arrive as a string, a number, a boolean or null, or be absent;
/// anything else (an object, an array) is ignored. Borrows when the JSON text has no escapes.
#[derive(Debug, Default)]
struct Field<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or null")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Field(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Field(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Field(Some(Cow::Owned(v))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Field(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Field(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Field(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Field(Some(Cow::Borrowed(if v { "true" } else { "false" }))))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Field(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Field(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A value that must be a JSON object: derived structs would also accept an array (fields by
/// position), which would turn `[[["x"]]]` into an empty report.
#[derive(Debug)]
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData)).map(Obj)
    }
}

/// The fields of a CSP report body, under either spelling (legacy kebab-case, Reporting
/// API camelCase).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Body<'a> {
    #[serde(
        borrow,
        rename = "document-uri",
        alias = "documentURL",
        alias = "documentURI",
        alias = "document-url"
    )]
    document_url: Field<'a>,
    #[serde(
        borrow,
        rename = "blocked-uri",
        alias = "blockedURL",
        alias = "blockedURI",
        alias = "blocked-url"
    )]
    blocked_url: Field<'a>,
    #[serde(borrow, rename = "effective-directive", alias = "effectiveDirective")]
    effective_directive: Field<'a>,
    #[serde(borrow, rename = "violated-directive", alias = "violatedDirective")]
    violated_directive: Field<'a>,
    #[serde(borrow, rename = "original-policy", alias = "originalPolicy")]
    original_policy: Field<'a>,
    #[serde(borrow)]
    disposition: Field<'a>,
    #[serde(borrow, rename = "status-code", alias = "statusCode")]
    status_code: Field<'a>,
    #[serde(borrow, rename = "source-file", alias = "sourceFile")]
    source_file: Field<'a>,
    #[serde(borrow, rename = "line-number", alias = "lineNumber")]
    line: Field<'a>,
    #[serde(borrow, rename = "column-number", alias = "columnNumber")]
    column: Field<'a>,
    #[serde(borrow, rename = "script-sample", alias = "sample")]
    sample: Field<'a>,
    #[serde(borrow)]
    referrer: Field<'a>,
    /// A `connection-allowlist` report's connection URL (Chromium: WebSockets in their
    /// http(s) form, the query kept).
    #[serde(borrow)]
    connection: Field<'a>,
}

impl Body<'_> {
    /// Whether no field holds anything.
    fn is_empty(&self) -> bool {
        [
            &self.document_url,
            &self.blocked_url,
            &self.effective_directive,
            &self.violated_directive,
            &self.original_policy,
            &self.disposition,
            &self.status_code,
            &self.source_file,
            &self.line,
            &self.column,
            &self.sample,
            &self.referrer,
            &self.connection,
        ]
        .iter()
        .all(|f| f.0.as_deref().is_none_or(|v| v.trim().is_empty()))
    }
}

/// A top-level object: a legacy envelope or a single Reporting API report.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TopObject<'a> {
    #[serde(borrow, rename = "csp-report")]
    legacy: Option<Obj<Body<'a>>>,
    #[serde(borrow, rename = "type")]
    kind: Field<'a>,
    #[serde(borrow)]
    body: Option<Obj<Body<'a>>>,
    #[serde(borrow)]
    user_agent: Field<'a>,
    /// The Reporting API report's `url`: the page, for report types whose body does not
    /// name it (`connection-allowlist`).
    #[serde(borrow)]
    url: Field<'a>,
}

/// A Reporting API batch, keeping at most `cap` reports and counting the rest. Each report
/// is read on its own: one that cannot be read (a duplicate key, a lone surrogate, a wrong
/// type) is counted, and the others are kept.
struct Batch<'a> {
    items: Vec<TopObject<'a>>,
    extra: u64,
    unreadable: u64,
}

struct BatchSeed(usize);

impl<'de> de::DeserializeSeed<'de> for BatchSeed {
    type Value = Batch<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct V(usize);
        impl<'de> Visitor<'de> for V {
            type Value = Batch<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of reports")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                let (mut extra, mut unreadable) = (0, 0);
                // Each element is first taken whole (its JSON syntax checked, nothing else),
                // then read as a report on its own.
                while items.len() < self.0 {
                    match s.next_element::<&'de serde_json::value::RawValue>()? {
                        Some(raw) => match serde_json::from_str::<Obj<TopObject<'de>>>(raw.get()) {
                            Ok(Obj(o)) => items.push(o),
                            Err(_) => unreadable += 1,
                        },
                        None => {
                            return Ok(Batch {
                                items,
                                extra,
                                unreadable,
                            })
                        }
                    }
                }
                // Past the cap, only count (and only skim) what is left.
                while s.next_element::<IgnoredAny>()?.is_some() {
                    extra += 1;
                }
                Ok(Batch {
                    items,
                    extra,
                    unreadable,
                })
            }
        }
        d.deserialize_seq(V(self.0))
    }
}

/// What the JSON parser found wrong, said without any of the body's text (the parser's own
/// messages quote values, and a 400 must never echo what the sender wrote): its kind and
/// where.
fn json_err(e: serde_json::Error) -> ParseError {
    let at = format!("at line {} column {}", e.line(), e.column());
    match e.classify() {
        serde_json::error::Category::Data => ParseError::Shape(format!(
            "a value of the wrong type or a repeated field {at}; expected {{\"csp-report\": \
             {{...}}}}, a Reporting API object, or an array of them"
        )),
        serde_json::error::Category::Eof => {
            ParseError::Json(format!("the body ends in the middle of a value ({at})"))
        }
        serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
            ParseError::Json(format!("not JSON {at}"))
        }
    }
}

/// Parses one request body. The shape is read from the JSON itself, not from the content
/// type, since browsers mislabel bodies (Safari sends a Reporting API object as
/// `application/csp-report`); the collector checks the content type before calling this.
pub fn parse_reports(body: &[u8], options: &NormalizeOptions) -> Result<Parsed, ParseError> {
    parse_reports_with_user_agent(body, options, None)
}

/// [`parse_reports`] with the request's `User-Agent` as a fallback for legacy reports.
pub fn parse_reports_with_user_agent(
    body: &[u8],
    options: &NormalizeOptions,
    request_user_agent: Option<&str>,
) -> Result<Parsed, ParseError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ParseError::Json(format!("body is not UTF-8 ({e})")))?;
    let first = text.trim_start().as_bytes().first().copied();
    let now = SystemTime::now();
    let mut out = Parsed::default();
    let mut first_unusable = None;
    let mut keep = |out: &mut Parsed, r: Result<Violation, Unusable>| match r {
        Ok(v) => out.violations.push(v),
        Err(why) => {
            out.invalid += 1;
            first_unusable.get_or_insert(why);
        }
    };
    match first {
        Some(b'[') => {
            let mut de = serde_json::Deserializer::from_str(text);
            let batch = de::DeserializeSeed::deserialize(BatchSeed(options.max_reports), &mut de)
                .map_err(json_err)?;
            de.end().map_err(json_err)?;
            out.dropped = batch.extra;
            if batch.unreadable > 0 {
                keep(&mut out, Err(Unusable::Unreadable));
                // `keep` counted one: the others too.
                out.invalid += batch.unreadable - 1;
            }
            for item in batch.items {
                match item.kind.0.as_deref() {
                    Some("csp-violation") | Some("csp") => {}
                    Some(CONNECTION_ALLOWLIST_DIRECTIVE) => {
                        if let Some(Obj(body)) = item.body {
                            let ua = item.user_agent.0.or(request_user_agent.map(Cow::Borrowed));
                            let v = allowlist_report(
                                body,
                                item.url.0,
                                ReportFormat::ReportingApi,
                                ua,
                                now,
                                options,
                            );
                            keep(&mut out, v);
                        } else {
                            keep(&mut out, Err(Unusable::Empty));
                        }
                        continue;
                    }
                    _ => {
                        out.other_types += 1;
                        continue;
                    }
                }
                let Some(Obj(body)) = item.body else {
                    return Err(ParseError::Shape(
                        "a csp-violation report has no body".into(),
                    ));
                };
                let ua = item.user_agent.0.or(request_user_agent.map(Cow::Borrowed));
                let v = normalize(body, ReportFormat::ReportingApi, ua, now, options);
                keep(&mut out, v);
            }
        }
        Some(b'{') => {
            let Obj(obj): Obj<TopObject<'_>> = serde_json::from_str(text).map_err(json_err)?;
            // WebKit wraps its legacy report as {"type":"csp-violation","url":…,
            // "csp-report":{…}}: the csp-report member wins over the envelope.
            if let Some(Obj(body)) = obj.legacy {
                let ua = request_user_agent.map(Cow::Borrowed);
                keep(
                    &mut out,
                    normalize(body, ReportFormat::Legacy, ua, now, options),
                );
            } else if let Some(Obj(body)) = obj.body {
                match obj.kind.0.as_deref() {
                    Some(CONNECTION_ALLOWLIST_DIRECTIVE) => {
                        let ua = obj.user_agent.0.or(request_user_agent.map(Cow::Borrowed));
                        let v = allowlist_report(
                            body,
                            obj.url.0,
                            ReportFormat::ReportingApiSingle,
                            ua,
                            now,
                            options,
                        );
                        keep(&mut out, v);
                    }
                    Some("csp-violation") | Some("csp") | None => {
                        let ua = obj.user_agent.0.or(request_user_agent.map(Cow::Borrowed));
                        let v = normalize(body, ReportFormat::ReportingApiSingle, ua, now, options);
                        keep(&mut out, v);
                    }
                    Some(_) => out.other_types += 1,
                }
            } else {
                // An old WebKit shape: the legacy fields at the top level, unwrapped.
                let Obj(body): Obj<Body<'_>> = serde_json::from_str(text).map_err(json_err)?;
                if body.is_empty() {
                    return Err(ParseError::Shape(
                        "an object needs a \"csp-report\" member, a Reporting API \"body\", or report fields such as \"document-uri\" and \"violated-directive\"".into(),
                    ));
                }
                let ua = request_user_agent.map(Cow::Borrowed);
                keep(
                    &mut out,
                    normalize(body, ReportFormat::Legacy, ua, now, options),
                );
            }
        }
        Some(_) => {
            // Let the JSON parser say what is wrong and where.
            let e = serde_json::from_str::<IgnoredAny>(text).err();
            return Err(match e {
                Some(e) if !e.is_data() => json_err(e),
                _ => ParseError::Shape(
                    "expected {\"csp-report\": {...}}, a Reporting API object, or an array of them"
                        .into(),
                ),
            });
        }
        None => return Err(ParseError::Json("empty body".into())),
    }
    // Nothing usable and nothing else: the sender should hear why (a batch that also held
    // usable or other reports is taken, its unusable ones counted).
    if let Some(reason) = first_unusable {
        if out.violations.is_empty() && out.other_types == 0 && out.dropped == 0 {
            return Err(ParseError::Unusable {
                reports: out.invalid,
                reason,
            });
        }
    }
    if out.violations.len() > options.max_reports {
        out.dropped += (out.violations.len() - options.max_reports) as u64;
        out.violations.truncate(options.max_reports);
    }
    Ok(out)
}

/// Control characters (C0 but TAB, DEL, C1) written as `\u{1b}` text: what is stored,
/// logged or shown can never move a terminal's cursor, set its clipboard (OSC 52) or forge
/// a log line, and still says what was sent.
fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A URL without its user name and password (`https://user:pw@host/` → `https://host/`):
/// credentials are never kept, in any field.
fn strip_userinfo(url: &str) -> Cow<'_, str> {
    let Some(i) = url.find("://") else {
        return Cow::Borrowed(url);
    };
    let rest = &url[i + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => Cow::Owned(format!("{}{}", &url[..i + 3], &rest[at + 1..])),
        None => Cow::Borrowed(url),
    }
}

fn strip_query(s: &str) -> &str {
    match s.find(['?', '#']) {
        Some(i) => &s[..i],
        None => s,
    }
}

/// The directive name a report's field starts with, if CSP defines it. CSP2 browsers put
/// the source list after the name (`script-src 'unsafe-eval'`); names are ASCII
/// case-insensitive (§2.2.1 step 2.4).
fn directive_name(field: Option<&str>) -> Option<&'static str> {
    text::directive_name(field?.split_ascii_whitespace().next()?)
}

/// CSP3 "strip URL for use in reports", step 1: a URL whose scheme is not HTTP(S) is
/// reported as its scheme alone. Browsers already do it for what they send as a blocked
/// URL; doing it here too turns every `data:…` or `blob:…` payload into one `data` or
/// `blob` (the keyword form browsers send), not one group per payload with the payload as
/// its sample. `ws:` and `wss:` are kept whole: browsers report WebSocket URLs as they are.
/// `host:port` without a scheme (a dotted name or `localhost`, then only digits up to a
/// `/` or the end) is not taken for a scheme; `data:0…` is one.
fn scheme_only(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once(':')?;
    let mut bytes = scheme.bytes();
    let starts_alpha = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let port = rest.split('/').next().unwrap_or(rest);
    let host_port = (scheme.contains('.') || scheme.eq_ignore_ascii_case("localhost"))
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit());
    if !starts_alpha
        || !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        || host_port
    {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "http" | "https" | "ws" | "wss" => None,
        _ => Some(scheme),
    }
}

/// A `connection-allowlist` report (WICG Connection Allowlists; Chromium 156 sends
/// `{"type":"connection-allowlist","url":<page>,"body":{"connection":<URL>,"disposition":…}}`,
/// measured: `docs/engine-probe/connection-allowlist/FINDINGS.md`) as a violation of the
/// directive `connection-allowlist`: the page from the report's `url` (or the body's, as the
/// spec's dictionary has it), the connection as the blocked URL. A WebRTC report names
/// `webrtc` as its connection, kept as that keyword.
fn allowlist_report<'a>(
    mut b: Body<'a>,
    page: Option<Cow<'a, str>>,
    format: ReportFormat,
    user_agent: Option<Cow<'_, str>>,
    received_at: SystemTime,
    o: &NormalizeOptions,
) -> Result<Violation, Unusable> {
    if b.connection
        .0
        .as_deref()
        .is_none_or(|c| c.trim().is_empty())
    {
        return Err(Unusable::Empty);
    }
    if b.document_url.0.is_none() {
        b.document_url = Field(page);
    }
    b.blocked_url = Field(b.connection.0.take());
    b.effective_directive = Field(None);
    b.violated_directive = Field(None);
    let mut v = normalize_with(
        b,
        format,
        user_agent,
        received_at,
        o,
        Some(CONNECTION_ALLOWLIST_DIRECTIVE),
    )?;
    v.original_policy = None;
    Ok(v)
}

fn normalize(
    b: Body<'_>,
    format: ReportFormat,
    user_agent: Option<Cow<'_, str>>,
    received_at: SystemTime,
    o: &NormalizeOptions,
) -> Result<Violation, Unusable> {
    normalize_with(b, format, user_agent, received_at, o, None)
}

/// [`normalize`], with the directive given rather than read from the report.
fn normalize_with(
    b: Body<'_>,
    format: ReportFormat,
    user_agent: Option<Cow<'_, str>>,
    received_at: SystemTime,
    o: &NormalizeOptions,
    directive: Option<&'static str>,
) -> Result<Violation, Unusable> {
    if b.is_empty() {
        return Err(Unusable::Empty);
    }
    let text = |f: &Option<Cow<'_, str>>| -> Option<String> {
        f.as_deref()
            .map(|s| bound(&escape_controls(s.trim()), o.max_field).to_owned())
    };
    let url = |f: &Option<Cow<'_, str>>| -> Option<String> {
        f.as_deref().map(|s| {
            let s = s.trim();
            if let Some(scheme) = scheme_only(s) {
                return bound(&escape_controls(&scheme), o.max_field).to_owned();
            }
            let s = if o.strip_query { strip_query(s) } else { s };
            let s = strip_userinfo(s);
            bound(&escape_controls(&s), o.max_field).to_owned()
        })
    };
    let number = |f: &Option<Cow<'_, str>>| -> Option<u64> {
        f.as_deref()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| n as u64)
    };
    let violated = text(&b.violated_directive.0);
    // The effective directive if it is one CSP defines; else the violated directive's
    // first word (old Firefox sends no effective-directive; some browsers and proxies send
    // a keyword or nonsense there); else the report says nothing usable.
    let effective = directive
        .or_else(|| directive_name(b.effective_directive.0.as_deref()))
        .or_else(|| directive_name(violated.as_deref()))
        .ok_or(Unusable::NoDirective)?;
    let document_url = url(&b.document_url.0).unwrap_or_default();
    let blocked_url = url(&b.blocked_url.0).unwrap_or_default();
    Ok(Violation {
        // Read once here: the group key, the accept list, verification and learning
        // compare these values, never the text.
        blocked_origin: Origin::of_url(&blocked_url),
        document_origin: Origin::of_url(&document_url),
        document_url,
        blocked_url,
        effective_directive: effective.to_owned(),
        violated_directive: violated,
        disposition: b
            .disposition
            .0
            .as_deref()
            .map_or(Disposition::Unknown, Disposition::parse),
        status_code: number(&b.status_code.0).and_then(|n| u16::try_from(n).ok()),
        source_file: url(&b.source_file.0).filter(|s| !s.is_empty()),
        line: number(&b.line.0).and_then(|n| u32::try_from(n).ok()),
        column: number(&b.column.0).and_then(|n| u32::try_from(n).ok()),
        sample: text(&b.sample.0).filter(|s| !s.is_empty()),
        referrer: url(&b.referrer.0).filter(|s| !s.is_empty()),
        user_agent: user_agent.map(|u| bound(&escape_controls(u.trim()), o.max_field).to_owned()),
        original_policy: text(&b.original_policy.0),
        format,
        received_at,
        class: Class::Unverified,
        network: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_written_out_and_userinfo_dropped() {
        assert_eq!(
            escape_controls("a\u{1b}]52;c;x\u{7}b"),
            "a\\u{1b}]52;c;x\\u{7}b"
        );
        assert_eq!(escape_controls("one\ntwo\tthree"), "one\\u{a}two\tthree");
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
        assert_eq!(
            strip_userinfo("https://admin:hunter2@partner.example/x?a@b"),
            "https://partner.example/x?a@b"
        );
        assert_eq!(strip_userinfo("https://host/p@q"), "https://host/p@q");
        let body = "{\"csp-report\":{\"document-uri\":\"https://u:p@app.example/\\u001b[2J\",\
            \"blocked-uri\":\"https://admin:hunter2@partner.example/x\",\
            \"effective-directive\":\"connect-src\",\"script-sample\":\"a\\nb\"}}";
        let v = parse_reports(body.as_bytes(), &NormalizeOptions::default())
            .unwrap()
            .violations
            .remove(0);
        assert_eq!(v.blocked_url, "https://partner.example/x");
        assert_eq!(v.document_url, "https://app.example/\\u{1b}[2J");
        assert_eq!(v.sample.as_deref(), Some("a\\u{a}b"));
    }

    #[test]
    fn a_batch_keeps_its_readable_reports_and_errors_never_echo() {
        let good = r#"{"type":"csp-violation","body":{"documentURL":"https://a.example/","blockedURL":"https://x.example/","effectiveDirective":"connect-src"}}"#;
        let dup = r#"{"type":"csp-violation","body":{"documentURL":"https://a.example/","documentURL":"https://b.example/","effectiveDirective":"connect-src"}}"#;
        let surrogate = r#"{"type":"csp-violation","body":{"documentURL":"https://a.example/\ud800","effectiveDirective":"connect-src"}}"#;
        let body = format!("[{good},{dup},{surrogate},{good}]");
        let p = parse_reports(body.as_bytes(), &NormalizeOptions::default()).unwrap();
        assert_eq!((p.violations.len(), p.invalid), (2, 2));
        let all_bad = format!("[{dup},{surrogate}]");
        let e = parse_reports(all_bad.as_bytes(), &NormalizeOptions::default()).unwrap_err();
        assert!(
            matches!(
                e,
                ParseError::Unusable {
                    reports: 2,
                    reason: Unusable::Unreadable
                }
            ),
            "{e}"
        );
        for (evil, secret) in [
            (r#"{"csp-report": "<script>SECRET</script>"}"#, "SECRET"),
            (r#"[{"type":"csp-violation","body":"SECRET"}]"#, "SECRET"),
            (
                r#"{"csp-report":{"document-uri":["SECRET"]}} SECRET"#,
                "SECRET",
            ),
            ("SECRET", "SECRET"),
        ] {
            let e = parse_reports(evil.as_bytes(), &NormalizeOptions::default())
                .unwrap_err()
                .to_string();
            assert!(!e.contains(secret), "{evil}: {e}");
        }
    }

    #[test]
    fn directive_names() {
        assert_eq!(directive_name(Some("connect-src")), Some("connect-src"));
        assert_eq!(
            directive_name(Some(" Script-Src 'unsafe-eval'")),
            Some("script-src")
        );
        assert_eq!(directive_name(Some("'unsafe-inline'")), None);
        assert_eq!(directive_name(Some("blah")), None);
        assert_eq!(directive_name(Some("connect-src-x")), None);
        assert_eq!(directive_name(Some("")), None);
        for d in text::DIRECTIVE_NAMES {
            assert_eq!(directive_name(Some(&d.to_ascii_uppercase())), Some(*d));
        }
    }

    #[test]
    fn non_http_urls_become_their_scheme() {
        assert_eq!(
            scheme_only("data:text/plain;base64,SGVsbG8=").as_deref(),
            Some("data")
        );
        assert_eq!(
            scheme_only("blob:https://app.example/1-2").as_deref(),
            Some("blob")
        );
        assert_eq!(scheme_only("About:blank").as_deref(), Some("about"));
        assert_eq!(
            scheme_only("chrome-extension://id/x.js").as_deref(),
            Some("chrome-extension")
        );
        for kept in [
            "https://a.example/",
            "HTTP://a.example/",
            "wss://a.example/",
            "ws://a.example/",
            "inline",
            "data",
            "",
            "api.example.com:443",
            "localhost:8080/x",
            "1a:b",
            ":x",
        ] {
            assert_eq!(scheme_only(kept), None, "{kept}");
        }
    }
}

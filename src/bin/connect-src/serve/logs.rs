//! Log lines on stderr: `tracing-subscriber`'s formatter (text or JSON), filtered by
//! RUST_LOG (default `info`), written through [`Escaping`].
//!
//! What `tracing-subscriber` 0.3.20+ does on its own (read in its `fmt/format/escape.rs`
//! and `mod.rs`): in the text format it escapes ESC, BEL, BS, FF, DEL and C1 controls in the
//! *message*, and `?debug` and plain `&str` fields come out through `Debug` (quoted,
//! escaped); but a newline or CR in the message, and anything in a `%display` field, is
//! written raw, so a report's text could forge a log line or reach the operator's terminal
//! (OSC 52 sets the clipboard). The JSON format escapes C0 controls (serde_json) but not
//! DEL or C1. So every line goes through [`Escaping`], which escapes each control
//! character left but the line's own final newline. Colours are off: they would be
//! escaped too.

use std::io::{self, Write};

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;

use super::LogFormat;

/// Installs the subscriber for the process. An unreadable RUST_LOG is a usage error.
pub(super) fn init(format: LogFormat) -> Result<(), String> {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref())?;
    let installed = match format {
        LogFormat::Text => tracing::subscriber::set_global_default(text_to(
            filter,
            Escaping::new(false, io::stderr),
        )),
        LogFormat::Json => tracing::subscriber::set_global_default(json_to(
            filter,
            Escaping::new(true, io::stderr),
        )),
    };
    installed.map_err(|e| format!("cannot install the log subscriber: {e}"))
}

/// RUST_LOG's filter, `info` when it is unset or empty.
fn filter(rust_log: Option<&str>) -> Result<EnvFilter, String> {
    let builder = EnvFilter::builder().with_default_directive(LevelFilter::INFO.into());
    match rust_log.filter(|v| !v.trim().is_empty()) {
        None => Ok(builder.parse_lossy("")),
        Some(v) => builder.parse(v).map_err(|e| {
            format!(
                "RUST_LOG={v:?} is not a log filter ({e}); write it like info or connect_src=debug"
            )
        }),
    }
}

fn text_to<M>(filter: EnvFilter, out: M) -> impl tracing::Subscriber + Send + Sync
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(out)
        .finish()
}

fn json_to<M>(filter: EnvFilter, out: M) -> impl tracing::Subscriber + Send + Sync
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(out)
        .finish()
}

/// A `MakeWriter` whose writers escape control characters. The formatter writes each event
/// whole with one `write_all`, so the only newline that ends a line is the last byte.
struct Escaping<F> {
    json: bool,
    out: F,
}

impl<F> Escaping<F> {
    fn new(json: bool, out: F) -> Escaping<F> {
        Escaping { json, out }
    }
}

impl<'a, F, W> MakeWriter<'a> for Escaping<F>
where
    F: Fn() -> W + 'a,
    W: Write,
{
    type Writer = EscapingWriter<W>;

    fn make_writer(&'a self) -> Self::Writer {
        EscapingWriter {
            json: self.json,
            out: (self.out)(),
        }
    }
}

struct EscapingWriter<W> {
    json: bool,
    out: W,
}

impl<W: Write> Write for EscapingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // One write of the whole escaped event, so lines of concurrent events never mix.
        self.out.write_all(&escape(buf, self.json))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `line` with every C0 control, DEL and C1 control (U+0080–U+009F) escaped, except a final
/// newline. Text: `\n`, `\r`, `\t`, `\x1b`, `\u{9b}`; JSON: `\u001b`-style escapes, which is
/// what they can only be inside (JSON's own syntax is printable ASCII).
fn escape(line: &[u8], json: bool) -> Vec<u8> {
    let (body, end) = match line.split_last() {
        Some((b'\n', body)) => (body, &b"\n"[..]),
        _ => (line, &b""[..]),
    };
    let mut out = Vec::with_capacity(line.len() + 16);
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        // U+0080–U+009F in UTF-8: 0xC2 then 0x80–0x9F (0xC2 never starts anything else
        // that could be a control).
        let c1 = b == 0xC2 && body.get(i + 1).is_some_and(|n| (0x80..=0x9F).contains(n));
        let code = if c1 {
            i += 1;
            Some(u32::from(body[i]))
        } else if b < 0x20 || b == 0x7F {
            Some(u32::from(b))
        } else {
            None
        };
        match code {
            None => out.push(b),
            Some(c) if json => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            Some(0x0A) => out.extend_from_slice(b"\\n"),
            Some(0x0D) => out.extend_from_slice(b"\\r"),
            Some(0x09) => out.extend_from_slice(b"\\t"),
            Some(c) if c < 0x80 => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
            Some(c) => out.extend_from_slice(format!("\\u{{{c:x}}}").as_bytes()),
        }
        i += 1;
    }
    out.extend_from_slice(end);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// What a report could carry: OSC 52 (set the clipboard), a colour, a C1 CSI, DEL, and
    /// a newline that would start a forged line.
    const HOSTILE: &str =
        "a\u{1b}]52;c;ZXZpbA==\u{7}b\u{1b}[31mred\u{9b}2J\u{7f}\nFORGED level=ERROR";

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log_with(json: bool) -> String {
        let capture = Capture::default();
        let out = capture.clone();
        let make = Escaping::new(json, move || out.clone());
        let filter = filter(None).unwrap();
        let emit = || {
            tracing::warn!(
                display = %HOSTILE,
                debug = ?HOSTILE,
                plain = HOSTILE,
                "message {}",
                HOSTILE
            );
        };
        if json {
            tracing::subscriber::with_default(json_to(filter, make), emit);
        } else {
            tracing::subscriber::with_default(text_to(filter, make), emit);
        }
        let bytes = capture.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn assert_inert(out: &str) {
        assert!(out.ends_with('\n'), "{out:?}");
        assert_eq!(out.matches('\n').count(), 1, "one line: {out:?}");
        let raw = out[..out.len() - 1].chars().find(|c| c.is_control());
        assert_eq!(raw, None, "a raw control character in {out:?}");
        assert!(!out.contains("\nFORGED"), "{out:?}");
    }

    #[test]
    fn text_lines_carry_no_raw_control_characters() {
        let out = log_with(false);
        assert_inert(&out);
        // Each field is there, escaped, in one line.
        assert!(
            out.contains(r"ZXZpbA==\x07b\x1b[31mred\u{9b}2J\x7f\nFORGED"),
            "{out}"
        );
    }

    #[test]
    fn json_lines_carry_no_raw_control_characters_and_keep_the_text() {
        let out = log_with(true);
        assert_inert(&out);
        let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
        // Escaped as JSON escapes: a log pipeline reads back exactly what was logged.
        assert_eq!(v["display"], HOSTILE, "{out}");
        assert_eq!(v["plain"], HOSTILE, "{out}");
        assert_eq!(v["message"], format!("message {HOSTILE}"), "{out}");
    }

    #[test]
    fn only_the_final_newline_is_kept() {
        assert_eq!(escape(b"a\nb\n", false), b"a\\nb\n");
        assert_eq!(escape(b"a\r\n\n", true), b"a\\u000d\\u000a\n");
        assert_eq!(
            escape("x\u{85}y\u{a0}".as_bytes(), false),
            "x\\u{85}y\u{a0}".as_bytes()
        );
        assert_eq!(escape(b"", false), b"");
    }

    #[test]
    fn a_bad_rust_log_is_named() {
        let e = filter(Some("info,[")).unwrap_err();
        assert!(e.contains("RUST_LOG") && e.contains("info,["), "{e}");
        assert!(filter(Some("  ")).is_ok());
    }
}

//! The built `connect-src` binary and Connection-Allowlist: `allowlist` (the value, its
//! widenings and gaps, exit codes), `check --connection-allowlist` (the chromium column
//! narrowed, the others not) and `audit --connection-allowlist` (the allowlist-* codes).
#![cfg(feature = "cli")]

use std::process::Output;

mod common;
use common::{run, stderr, stdout};

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

/// The stderr lines that start with `prefix`.
fn lines_with(o: &Output, prefix: &str) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// `check`'s JSON lines.
fn verdicts(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn allowlist_prints_the_value_and_names_each_widening() {
    let o = run(&[
        "allowlist",
        "--policy",
        "'self' https://api.x.com wss://ws.x.com",
    ]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "(response-origin \"https://api.x.com\" \"https://ws.x.com\");redirects=allow\n"
    );
    let widenings = lines_with(&o, "widening: ");
    assert_eq!(widenings.len(), 2, "{widenings:?}");
    assert!(
        widenings[0].starts_with("widening: https://api.x.com also admits wss://api.x.com"),
        "{widenings:?}"
    );
    assert!(
        widenings[1].starts_with("widening: wss://ws.x.com also admits https://ws.x.com")
            && widenings[1].contains("fetch, XHR, EventSource and beacons"),
        "{widenings:?}"
    );
    // 'self' on an http page: a note, not a gap.
    assert_eq!(lines_with(&o, "note: 'self' -> response-origin").len(), 1);
    assert!(lines_with(&o, "not translated: ").is_empty());
}

#[test]
fn an_untranslated_source_exits_1_and_the_rest_is_still_printed() {
    let o = run(&[
        "allowlist",
        "--policy",
        "'self' https://api.x.com ftp://files.x.com",
    ]);
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "(response-origin \"https://api.x.com\");redirects=allow\n"
    );
    let gaps = lines_with(&o, "not translated: ");
    assert_eq!(gaps.len(), 1, "{}", stderr(&o));
    assert!(
        gaps[0].starts_with("not translated: ftp://files.x.com: ") && gaps[0].contains("ftp:"),
        "{gaps:?}"
    );
}

#[test]
fn block_redirects_and_report_to() {
    let o = run(&[
        "allowlist",
        "--policy",
        "https://api.x.com",
        "--block-redirects",
        "--report-to",
        "csp",
    ]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "(\"https://api.x.com\");report-to=csp\n");
    // Without --block-redirects the parameter is there, before report-to.
    let o = run(&[
        "allowlist",
        "--policy",
        "https://api.x.com",
        "--report-to",
        "csp",
    ]);
    assert_eq!(
        stdout(&o),
        "(\"https://api.x.com\");redirects=allow;report-to=csp\n"
    );
}

#[test]
fn navigations_are_added_after_the_list() {
    let o = run(&[
        "allowlist",
        "--policy",
        "https://api.x.com",
        "--navigations",
        "'self' https://docs.x.com",
    ]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "(\"https://api.x.com\" response-origin \"https://docs.x.com\");redirects=allow\n"
    );
    assert!(!lines_with(&o, "widening: https://docs.x.com also admits").is_empty());
}

#[test]
fn bad_input_exits_2_with_a_message_and_no_value() {
    for (args, says) in [
        (vec!["--policy", "self garbage'"], "error: --policy: "),
        (vec!["--policy", "https://a.com; img-src x"], "has a ';'"),
        (
            vec!["--policy", "https://a.com", "--navigations", "'bogus'"],
            "error: --navigations: ",
        ),
        (
            vec!["--policy", "https://a.com", "--report-to", "a b"],
            "error: --report-to \"a b\" is not an endpoint name",
        ),
    ] {
        let o = run(&[&["allowlist"], &args[..]].concat());
        assert_eq!(code(&o), Some(2), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), "", "{args:?}");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn check_narrows_only_the_chromium_column() {
    let o = run(&[
        "check",
        "--header",
        "connect-src https:",
        "--connection-allowlist",
        "(\"https://api.x.com\")",
        "--page",
        "https://x.com/",
        "https://cdn.x.com/",
        "https://api.x.com/v1",
    ]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    // The output format is unchanged: the same keys, in the same order.
    assert_eq!(
        stdout(&o).lines().next(),
        Some(
            r#"{"target":"https://cdn.x.com/","spec":true,"chromium":false,"firefox":true,"webkit":true,"everywhere":false}"#
        )
    );
    let v = verdicts(&o);
    assert_eq!(v.len(), 2);
    assert_eq!(v[1]["target"], "https://api.x.com/v1");
    assert_eq!(v[1]["chromium"], true);
    assert_eq!(v[1]["everywhere"], true);
    assert_eq!(
        lines_with(&o, "note: Firefox and WebKit ignore Connection-Allowlist").len(),
        1,
        "{}",
        stderr(&o)
    );
    // The allowlist lists no response-origin: warned like the CSP's warnings.
    assert!(
        !lines_with(&o, "warning: Connection-Allowlist without response-origin").is_empty(),
        "{}",
        stderr(&o)
    );
    // Without the flag: every engine allows, and no note.
    let o = run(&[
        "check",
        "--header",
        "connect-src https:",
        "--page",
        "https://x.com/",
        "https://cdn.x.com/",
    ]);
    assert_eq!(verdicts(&o)[0]["chromium"], true);
    assert!(lines_with(&o, "note: ").is_empty(), "{}", stderr(&o));
}

#[test]
fn check_with_a_malformed_allowlist_alone_fails_closed_in_chromium() {
    let o = run(&[
        "check",
        "--connection-allowlist",
        "(response-origin",
        "--page",
        "https://x.com/",
        "https://x.com/api",
    ]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let v = verdicts(&o);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["chromium"], false, "the page's own origin is blocked");
    assert_eq!(v[0]["firefox"], true);
    assert_eq!(v[0]["webkit"], true);
    assert_eq!(v[0]["spec"], true);
    let warned = lines_with(&o, "warning: Connection-Allowlist does not parse");
    assert_eq!(warned.len(), 1, "{}", stderr(&o));
    assert!(warned[0].contains("blocks every connection"), "{warned:?}");
    // A well-formed one with response-origin allows the page's own origin.
    let o = run(&[
        "check",
        "--connection-allowlist",
        "(response-origin)",
        "--page",
        "https://x.com/",
        "https://x.com/api",
        "https://y.com/",
    ]);
    let v = verdicts(&o);
    assert_eq!(v[0]["chromium"], true);
    assert_eq!(v[1]["chromium"], false);
    assert!(lines_with(&o, "warning: ").is_empty(), "{}", stderr(&o));
}

/// `audit` lines as (severity, code, source).
fn findings(o: &Output) -> Vec<(String, String, Option<String>)> {
    verdicts(o)
        .into_iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_owned(),
                f["code"].as_str().unwrap().to_owned(),
                f["source"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn audit_adds_the_allowlist_codes() {
    let o = run(&[
        "audit",
        "--policy",
        "'self' https://api.x.com ftp://files.x.com",
        "--connection-allowlist",
    ]);
    // The builder refuses an allowlist with a source it cannot say.
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("ftp://files.x.com"), "{}", stderr(&o));
    let f = findings(&o);
    let has = |severity: &str, code: &str, source: Option<&str>| {
        f.iter()
            .any(|(s, c, src)| s == severity && c == code && src.as_deref() == source)
    };
    assert!(
        has("info", "allowlist-widening", Some("https://api.x.com")),
        "{f:?}"
    );
    assert!(
        has("error", "allowlist-untranslated", Some("ftp://files.x.com")),
        "{f:?}"
    );
    assert!(has("warning", "allowlist-navigations", None), "{f:?}");
    assert!(has("info", "allowlist-redirects", None), "{f:?}");
    assert!(has("info", "allowlist-webrtc", None), "{f:?}");
    assert!(has("info", "allowlist-http-self", Some("'self'")), "{f:?}");
    // The CSP's own findings are still there.
    assert!(
        has("warning", "unreachable", Some("ftp://files.x.com")),
        "{f:?}"
    );
    let widening = verdicts(&o)
        .into_iter()
        .find(|f| f["code"] == "allowlist-widening")
        .unwrap();
    assert!(widening["message"]
        .as_str()
        .unwrap()
        .contains("also admits wss://api.x.com"));
}

#[test]
fn audit_without_the_flag_or_without_self() {
    let o = run(&["audit", "--policy", "'self' https://api.x.com"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(
        !findings(&o)
            .iter()
            .any(|(_, c, _)| c.starts_with("allowlist-")),
        "{}",
        stdout(&o)
    );
    // A list that translates: exit 0, and no 'self' means no allowlist-http-self.
    let o = run(&[
        "audit",
        "--policy",
        "https://api.x.com wss://api.x.com",
        "--connection-allowlist",
    ]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let codes: Vec<String> = findings(&o).into_iter().map(|(_, c, _)| c).collect();
    assert_eq!(
        codes,
        [
            "allowlist-widening",
            "allowlist-widening",
            "allowlist-navigations",
            "allowlist-redirects",
            "allowlist-webrtc"
        ]
    );
}

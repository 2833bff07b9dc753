//! Property tests: parse and display are inverses, and nothing the API accepts can turn into
//! a header that means something else.

use connect_src::policy::text::parse_header;
use connect_src::{ConnectSrc, Environment, Policy, Source};
use proptest::prelude::*;

/// Strings shaped like source expressions, with the dangerous characters mixed in.
fn source_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("'self'".to_owned()),
        Just("'none'".to_owned()),
        Just("*".to_owned()),
        Just("*.".to_owned()),
        Just("https://".to_owned()),
        Just("wss://".to_owned()),
        Just(":".to_owned()),
        Just(":*".to_owned()),
        Just("/".to_owned()),
        Just(";".to_owned()),
        Just(",".to_owned()),
        Just(" ".to_owned()),
        Just("\r\n".to_owned()),
        Just("'".to_owned()),
        Just("%2f".to_owned()),
        Just("ü".to_owned()),
        "[a-zA-Z0-9.-]{1,12}",
        "[0-9]{1,6}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 1..8).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Whatever parses displays to text that parses back to the same source, and that text
    /// is a single header-safe token.
    #[test]
    fn parse_display_round_trip(text in source_like()) {
        if let Ok(src) = text.parse::<Source>() {
            let shown = src.to_string();
            prop_assert_eq!(shown.parse::<Source>().unwrap(), src.clone());
            prop_assert!(shown.bytes().all(|b| b.is_ascii_graphic()), "{:?}", shown);
            prop_assert!(!shown.contains(';') && !shown.contains(','), "{:?}", shown);
        }
    }

    /// Any policy the builder accepts serializes to a header whose parse holds exactly one
    /// policy with exactly the directives we wrote, and our sources unchanged.
    #[test]
    fn accepted_policies_cannot_inject(
        sources in prop::collection::vec(source_like(), 1..6),
        report_uri in prop::option::of(source_like()),
        report_to in prop::option::of((source_like(), source_like())),
    ) {
        let mut b = Policy::builder()
            .enforce(sources.iter().fold(ConnectSrc::builder(), |b, s| b.source(s.as_str())))
            .environment(Environment::Development);
        if let Some(u) = &report_uri {
            b = b.report_uri(format!("/{u}"));
        }
        if let Some((n, u)) = &report_to {
            b = b.report_to(n.clone(), format!("https://r.example/{u}"));
        }
        if let Ok(policy) = b.build() {
            let header = policy.enforced_header().unwrap();
            let parsed = parse_header(&header);
            prop_assert_eq!(parsed.len(), 1, "{}", header);
            let names: Vec<&str> = parsed[0].directives.iter().map(|d| d.name).collect();
            let mut want = vec!["connect-src"];
            if report_uri.is_some() { want.push("report-uri"); }
            if report_to.is_some() { want.push("report-to"); }
            prop_assert_eq!(names, want, "{}", header);
            let list = parsed[0].get("connect-src").unwrap();
            prop_assert_eq!(list, policy.enforced().unwrap().value());
            prop_assert!(http::HeaderValue::from_str(&header).is_ok());
            if let Some(v) = policy.reporting_endpoints_header() {
                // One dictionary member: name="url" with no quote or backslash inside.
                let inner = v.split_once("=\"").unwrap().1;
                prop_assert!(inner.ends_with('"'));
                prop_assert!(!inner[..inner.len() - 1].contains(['"', '\\']), "{}", v);
            }
        }
    }
}

/// A directive name and a value made of CSP-ish words.
fn directive() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        Just("default-src".to_owned()),
        Just("script-src".to_owned()),
        Just("img-src".to_owned()),
        Just("connect-src".to_owned()),
        Just("CONNECT-SRC".to_owned()),
        Just("report-uri".to_owned()),
        Just("report-to".to_owned()),
        Just("upgrade-insecure-requests".to_owned()),
        "[a-z][a-z-]{0,14}",
    ];
    let value = prop::collection::vec(
        prop_oneof![
            Just("'self'".to_owned()),
            Just("https:".to_owned()),
            Just("*".to_owned()),
            "[a-z0-9.:/*'-]{1,16}",
        ],
        0..4,
    )
    .prop_map(|v| v.join(" "));
    (name, value)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Merging keeps every directive the handler set except connect-src, with its value
    /// unchanged, in order; the result has exactly one connect-src (ours) per policy; and a
    /// report directive is added only where the handler had none.
    #[test]
    fn merge_never_drops_a_handler_directive(
        policies in prop::collection::vec(prop::collection::vec(directive(), 1..6), 1..3),
        seps in prop::collection::vec(prop_oneof![Just(";"), Just("; "), Just(" ;  ")], 6),
    ) {
        let text = policies
            .iter()
            .map(|p| {
                p.iter()
                    .enumerate()
                    .map(|(i, (n, v))| format!("{n} {v}{}", seps[i % seps.len()]))
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join(", ");
        let ours = "connect-src 'self' https://api.x.com";
        let merged = connect_src::layer::merge_connect_src(&text, ours, &["report-uri /r"]);
        let before = parse_header(&text);
        let after = parse_header(&merged);
        prop_assert_eq!(before.len(), after.len(), "{} -> {}", text, merged);
        for (b, a) in before.iter().zip(&after) {
            let kept: Vec<_> = b
                .directives
                .iter()
                .filter(|d| !d.name.eq_ignore_ascii_case("connect-src"))
                .map(|d| (d.name, d.value))
                .collect();
            let now: Vec<_> = a
                .directives
                .iter()
                .filter(|d| !d.name.eq_ignore_ascii_case("connect-src"))
                .filter(|d| !(d.name == "report-uri" && d.value == "/r" && b.get("report-uri").is_none()))
                .map(|d| (d.name, d.value))
                .collect();
            prop_assert_eq!(kept, now, "{} -> {}", text, merged);
            prop_assert_eq!(a.get("connect-src"), Some("'self' https://api.x.com"));
            prop_assert_eq!(
                a.directives.iter().filter(|d| d.name.eq_ignore_ascii_case("connect-src")).count(),
                1
            );
            prop_assert_eq!(a.get("report-uri").is_some(), true);
        }
    }
}

/// Sources from a small universe, so lists overlap and cover each other often.
fn overlapping_source() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just(""),
        Just("http://"),
        Just("https://"),
        Just("ws://"),
        Just("wss://")
    ];
    let host = prop_oneof![
        Just("x.test"),
        Just("a.x.test"),
        Just("*.x.test"),
        Just("*"),
        Just("y.test"),
        Just("127.0.0.1")
    ];
    let port = prop_oneof![
        Just(""),
        Just(":8080"),
        Just(":*"),
        Just(":443"),
        Just(":80")
    ];
    let path = prop_oneof![Just(""), Just(""), Just("/api/"), Just("/api")];
    prop_oneof![
        8 => (scheme, host, port, path).prop_map(|(s, h, p, pa)| format!("{s}{h}{p}{pa}")),
        1 => Just("'self'".to_owned()),
        1 => prop_oneof![Just("http:"), Just("https:"), Just("ws:"), Just("wss:")].prop_map(str::to_owned),
    ]
}

fn probe_url() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![Just("http"), Just("https"), Just("ws"), Just("wss")];
    let host = prop_oneof![
        Just("x.test"),
        Just("a.x.test"),
        Just("b.a.x.test"),
        Just("y.test"),
        Just("127.0.0.1"),
        Just("zz.test")
    ];
    let port = prop_oneof![
        Just(""),
        Just(":80"),
        Just(":443"),
        Just(":8080"),
        Just(":9")
    ];
    let path = prop_oneof![
        Just("/"),
        Just("/api"),
        Just("/api/"),
        Just("/api/x"),
        Just("/apix")
    ];
    (scheme, host, port, path).prop_map(|(s, h, p, pa)| format!("{s}://{h}{p}{pa}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Minimizing never changes a verdict, for the engine set it was asked for.
    #[test]
    fn minimize_preserves_verdicts(
        sources in prop::collection::vec(overlapping_source(), 1..7),
        probes in prop::collection::vec((probe_url(), probe_url()), 40),
        browsers_only in any::<bool>(),
    ) {
        use connect_src::matcher::Engine;
        let Ok(list) = sources.iter().fold(ConnectSrc::builder(), |b, s| b.source(s.as_str())).build() else {
            return Ok(());
        };
        let engines: &[Engine] = if browsers_only { &[Engine::Chromium, Engine::Firefox] } else { &Engine::ALL };
        let min = connect_src::minimize::minimize(&list, engines);
        for (page, target) in &probes {
            let page = page.replace("ws://", "http://").replace("wss://", "https://");
            let before = list.check(&page, target).unwrap();
            let after = min.list.check(&page, target).unwrap();
            for &e in engines {
                prop_assert_eq!(
                    before.get(e), after.get(e),
                    "{} minimized to {} changes {} on {} -> {}", list, min.list, e, page, target
                );
            }
        }
    }
}

/// An http(s) probe URL, for the hops a redirect can lead to.
fn http_probe() -> impl Strategy<Value = String> {
    probe_url().prop_map(|u| u.replace("wss://", "https://").replace("ws://", "http://"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A redirect chain is allowed only where its first URL alone is, and, paths aside,
    /// exactly where every hop is: for a list without paths, `A -> B` is `A` and `B`.
    #[test]
    fn chains_judge_every_hop(
        sources in prop::collection::vec(overlapping_source(), 1..6),
        page in http_probe(),
        hops in prop::collection::vec(http_probe(), 2..4),
    ) {
        use connect_src::matcher::{Connection, Engine};
        let Ok(list) = sources.iter().fold(ConnectSrc::builder(), |b, s| b.source(s.as_str())).build() else {
            return Ok(());
        };
        let chain = hops[1..].iter().fold(Connection::new(hops[0].as_str()), |c, h| c.redirect(h.as_str()));
        let v = list.check_connection(&page, &chain).unwrap();
        let first = list.check(&page, &hops[0]).unwrap();
        let pathless = list.sources().iter().all(|s| s.as_host().is_none_or(|h| h.path().is_none()));
        for e in Engine::ALL {
            prop_assert!(!v.get(e) || first.get(e), "{} {} {}", list, chain, e);
            if pathless {
                let each = hops.iter().all(|h| list.check(&page, h).unwrap().get(e));
                prop_assert_eq!(v.get(e), each, "{} {} {}", list, chain, e);
            }
        }
    }

    /// Policies combined with `and` allow what each allows, no more; a `<meta>` without a
    /// `,` reads as the same header would.
    #[test]
    fn policies_combine_by_narrowing(
        a in prop::collection::vec(overlapping_source(), 1..4),
        b in prop::collection::vec(overlapping_source(), 1..4),
        page in http_probe(),
        target in probe_url(),
    ) {
        use connect_src::matcher::{BrowserPolicy, Engine};
        let (a, b) = (format!("connect-src {}", a.join(" ")), format!("connect-src {}", b.join(" ")));
        let pa = BrowserPolicy::from_header(&a);
        let pb = BrowserPolicy::from_header(&b);
        let both = pa.clone().and(pb.clone()).check(&page, &target).unwrap();
        let (va, vb) = (pa.check(&page, &target).unwrap(), pb.check(&page, &target).unwrap());
        let meta = BrowserPolicy::from_header(&a).and(BrowserPolicy::from_meta(&b)).check(&page, &target).unwrap();
        for e in Engine::ALL {
            prop_assert_eq!(both.get(e), va.get(e) && vb.get(e), "{} + {} {}", a, b, e);
            prop_assert_eq!(meta.get(e), both.get(e), "{} + meta {} {}", a, b, e);
        }
    }

    /// With upgrade-insecure-requests, Chromium judges fetch() as written and upgraded, XHR
    /// upgraded only: what fetch may reach, XHR may too; for ws/wss URLs and without the
    /// directive the API changes nothing.
    #[test]
    fn upgrade_insecure_requests_by_api(
        sources in prop::collection::vec(overlapping_source(), 1..5),
        page in http_probe(),
        target in http_probe(),
        uir in any::<bool>(),
    ) {
        use connect_src::matcher::{Api, BrowserPolicy, Connection, Engine};
        let header = format!(
            "connect-src {}{}",
            sources.join(" "),
            if uir { "; upgrade-insecure-requests" } else { "" }
        );
        let p = BrowserPolicy::from_header(&header);
        let ask = |api| p.check_connection(&page, &Connection::new(target.as_str()).with_api(api)).unwrap();
        let (fetch, xhr) = (ask(Api::Fetch), ask(Api::Xhr));
        prop_assert!(!fetch.get(Engine::Chromium) || xhr.get(Engine::Chromium), "{} {}", header, target);
        if !uir {
            for api in [Api::Xhr, Api::EventSource, Api::Beacon] {
                prop_assert_eq!(ask(api), fetch, "{} {} {}", header, target, api);
            }
        }
    }

    /// The audit and production agree: a list has a finding production refuses exactly
    /// when production `build()` refuses it.
    #[test]
    fn audit_and_production_agree(
        sources in prop::collection::vec(prop_oneof![
            overlapping_source(),
            Just("https://*.github.io".to_owned()),
            Just("https://*.co.uk".to_owned()),
            Just("https://*.myapp.com".to_owned()),
            Just("http://localhost:*".to_owned()),
            Just("ws://127.0.0.1:5173".to_owned()),
        ], 1..5),
    ) {
        let Ok(list) = sources.iter().fold(ConnectSrc::builder(), |b, s| b.source(s.as_str())).build() else {
            return Ok(());
        };
        let refused = connect_src::audit::audit(&list).iter().any(|f| f.refused_in_production());
        let built = Policy::builder().enforce(list.clone()).build();
        prop_assert_eq!(refused, built.is_err(), "{}", list);
    }
}

#[cfg(feature = "collector")]
mod report_parser {
    use connect_src::report::intake::{parse_reports, NormalizeOptions};
    use proptest::prelude::*;

    /// JSON-shaped noise: report keys, values of every type, unbalanced brackets.
    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just("null".to_owned()),
            Just("1e999".to_owned()),
            Just("-7".to_owned()),
            Just("\"csp-report\"".to_owned()),
            Just("\"body\"".to_owned()),
            Just("\"type\"".to_owned()),
            Just("\"csp-violation\"".to_owned()),
            Just("\"blocked-uri\"".to_owned()),
            Just("\"blockedURL\"".to_owned()),
            Just("\"status-code\"".to_owned()),
            Just("\"lineNumber\"".to_owned()),
            Just("\"\\ud800\"".to_owned()),
            Just("\"https://a.example/?q#f\"".to_owned()),
            "\"[^\"\\\\]{0,12}\"",
        ];
        prop_oneof![
            prop::collection::vec(piece, 0..40).prop_map(|v| v.concat().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..200),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        /// Whatever the bytes, the parser returns (never panics) and keeps what it keeps
        /// within bounds.
        #[test]
        fn report_parser_never_panics(body in jsonish()) {
            let o = NormalizeOptions::default();
            if let Ok(parsed) = parse_reports(&body, &o) {
                prop_assert!(parsed.violations.len() <= o.max_reports);
                for v in &parsed.violations {
                    prop_assert!(v.document_url.len() <= o.max_field && v.blocked_url.len() <= o.max_field);
                    prop_assert!(!v.blocked_url.contains('?') && !v.document_url.contains('#'));
                }
            }
        }
    }
}

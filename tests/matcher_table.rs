//! The matcher's verdicts, one row per rule or browser behaviour, each citing what it pins
//! down. Columns: spec, chromium, firefox, webkit. Browser columns are what headless
//! Chromium 156, Firefox ESR 153 and WebKitGTK 2.50 do, as measured by tests/browsers.rs and
//! docs/engine-probe/FINDINGS.md (`#n`: that file's probe).

use connect_src::matcher::{Api, BrowserPolicy, Connection, Engine};

const T: bool = true;
const F: bool = false;

#[rustfmt::skip]
const ROWS: &[(&str, &str, &str, [bool; 4], &str)] = &[
    // policy, page, target, [spec, chromium, firefox, webkit], why
    ("*", "https://a.com/", "https://b.com/", [T, T, T, T], "§6.7.2.8 step 1: * matches http(s)"),
    ("*", "https://a.com/", "http://b.com/", [T, T, T, T], "§6.7.2.8 step 1: * matches http from an https page"),
    ("*", "https://a.com/", "wss://b.com/", [F, T, T, T], "§6.7.2.8 step 1 excludes wss on https pages; browsers allow (#6)"),
    ("*", "http://a.com/", "ws://b.com/", [F, T, T, T], "§6.7.2.8 step 1 excludes ws; browsers allow (#3)"),
    ("*", "https://a.com/", "data:text/plain,x", [F, F, F, F], "§6.7.2.8 step 1: * does not cover data:"),
    ("*", "https://a.com/", "blob:https://a.com/1", [F, F, F, F], "§6.7.2.8 step 1: * does not cover blob:"),
    ("*", "http://a.com/", "http://127.0.0.1/", [T, T, T, T], "§6.7.2.8 step 1: bare * has no host step"),
    ("https:", "https://a.com/", "https://b.com/", [T, T, T, T], "§6.7.2.9 step 1: same scheme"),
    ("http:", "https://a.com/", "https://b.com/", [T, T, T, T], "§6.7.2.9 step 2: http upgrades to https"),
    ("https:", "https://a.com/", "http://b.com/", [F, F, F, F], "§6.7.2.9: no downgrade"),
    ("https:", "https://a.com/", "wss://b.com/", [F, F, F, F], "§6.7.2.9: https does not cover wss"),
    ("ws:", "https://a.com/", "wss://b.com/", [T, T, T, T], "§6.7.2.9 step 3: ws upgrades to wss"),
    ("ws:", "https://a.com/", "http://b.com/", [T, F, F, T], "§6.7.2.9 step 3: ws covers http; Chromium and Firefox keep families apart, WebKit follows the text"),
    ("ws:", "https://a.com/", "https://b.com/", [T, F, F, T], "§6.7.2.9 step 3: ws covers https; WebKit too"),
    ("wss:", "https://a.com/", "https://b.com/", [T, F, F, T], "§6.7.2.9 step 4: wss covers https; WebKit too"),
    ("wss:", "https://a.com/", "ws://b.com/", [F, F, F, F], "§6.7.2.9: no downgrade"),
    ("https://api.x.com", "https://x.com/", "wss://api.x.com/", [F, F, F, F], "§6.7.2.9: https://h does not allow wss://h"),
    ("wss://api.x.com", "https://x.com/", "wss://api.x.com/s", [T, T, T, T], "§6.7.2.8 step 2.2: exact wss origin"),
    ("wss://api.x.com", "https://x.com/", "https://api.x.com/", [T, F, F, T], "§6.7.2.9 step 4 vs Chromium and Firefox families"),
    ("ws://api.x.com", "http://x.com/", "wss://api.x.com/", [T, T, T, T], "§6.7.2.9 step 3: ws://h upgrades to wss://h"),
    ("api.x.com", "https://x.com/", "https://api.x.com/", [T, T, T, T], "§6.7.2.8 step 2.2.2: scheme-less takes the page's scheme"),
    ("api.x.com", "http://x.com/", "https://api.x.com/", [T, T, T, T], "§6.7.2.8 step 2.2.2 + §6.7.2.9 step 2: upgrade"),
    ("api.x.com", "https://x.com/", "http://api.x.com/", [F, F, F, F], "§6.7.2.8 step 2.2.2: no downgrade from the page's scheme"),
    ("api.x.com", "https://x.com/", "wss://api.x.com/", [F, F, F, F], "scheme-less sources never match ws/wss (https page)"),
    ("api.x.com", "http://x.com/", "ws://api.x.com/", [F, F, F, F], "scheme-less sources never match ws/wss (http page)"),
    ("API.X.COM", "https://x.com/", "https://api.x.com/", [T, T, T, T], "§6.7.2.10 step 4: ASCII case-insensitive"),
    ("https://*.x.com", "https://x.com/", "https://a.x.com/", [T, T, T, T], "§6.7.2.10 step 3: subdomain"),
    ("https://*.x.com", "https://x.com/", "https://a.b.x.com/", [T, T, T, T], "§6.7.2.10 step 3: deeper subdomain"),
    ("https://*.x.com", "https://x.com/", "https://x.com/", [F, F, F, F], "§6.7.2.10 step 3: not the apex"),
    ("https://*.x.com", "https://x.com/", "https://evilx.com/", [F, F, F, F], "§6.7.2.10 step 3: label boundary"),
    ("https://*.x.com", "https://x.com/", "wss://a.x.com/", [F, F, F, F], "secure_headers' bug: *.x.com over https does not cover wss"),
    ("https://*", "https://x.com/", "https://any.com/", [T, T, T, T], "§6.7.2.10 step 2: * host"),
    ("https://x.com", "https://x.com/", "https://x.com:8443/", [F, F, F, F], "§6.7.2.11: no port = default port only"),
    ("https://x.com:*", "https://x.com/", "https://x.com:8443/", [T, T, T, T], "§6.7.2.11 step 3: any port"),
    ("https://x.com:443", "https://x.com/", "https://x.com/", [T, T, T, T], "§6.7.2.11 step 6: explicit default port"),
    ("https://x.com:8443", "https://x.com/", "https://x.com:8443/", [T, T, T, T], "§6.7.2.11 step 2: same port"),
    ("http://x.com", "http://x.com/", "https://x.com/", [T, T, T, T], "§6.7.2.9 step 2 + §6.7.2.11: upgrade on default ports"),
    ("http://x.com:80", "http://x.com/", "https://x.com/", [F, T, T, T], "browsers: port 80 upgrades to 443; §6.7.2.11 does not (#16)"),
    ("http://x.com:8001", "http://x.com/", "https://x.com:8001/", [T, F, T, T], "Chromium drops an explicit port on upgrade; Firefox and the spec keep it"),
    ("http://x.com:80", "http://x.com/", "http://x.com:443/", [F, F, T, T], "Firefox, WebKit: port 80 matches 443 without an upgrade (#17)"),
    ("http://x.com", "http://x.com/", "http://x.com:443/", [F, F, T, T], "Firefox, WebKit: an implied port 80 matches 443 too"),
    ("http://x.com:80", "http://x.com/", "https://x.com:80/", [T, F, T, T], "Chromium drops even port 80 on upgrade to https:80"),
    ("http://x.com:443", "http://x.com/", "https://x.com/", [T, T, T, T], "§6.7.2.11 step 6: 443 is https's default"),
    ("http://x.com.", "http://x.com/", "http://x.com/", [F, F, F, F], "a trailing dot is part of the host"),
    ("https://x.com/api/", "https://x.com/", "https://x.com/api/v1", [T, T, T, T], "§6.7.2.12 step 3: trailing / is a prefix"),
    ("https://x.com/api/", "https://x.com/", "https://x.com/apiv1", [F, F, F, F], "§6.7.2.12: prefix by segments"),
    ("https://x.com/api", "https://x.com/", "https://x.com/api", [T, T, T, T], "§6.7.2.12 step 6: exact"),
    ("https://x.com/api", "https://x.com/", "https://x.com/api/", [F, F, F, F], "§6.7.2.12 step 6: exact means exact"),
    ("https://x.com/api", "https://x.com/", "https://x.com/API", [F, F, F, F], "§6.7.2.12 step 8: case-sensitive"),
    ("https://x.com/a%20b", "https://x.com/", "https://x.com/a b", [T, T, T, T], "§6.7.2.12 step 8: percent-decoded"),
    ("https://x.com/api", "https://x.com/", "https://x.com/api?q=1", [T, T, T, T], "§6.7.2.12: the query is not part of the path"),
    ("'self'", "https://x.com/", "https://x.com/a", [T, T, T, T], "§6.7.2.8 step 3.1: same origin"),
    ("'self'", "https://x.com/", "wss://x.com/a", [T, T, T, T], "§6.7.2.8 step 3.2: wss from an https page"),
    ("'self'", "https://x.com/", "ws://x.com/a", [F, F, F, F], "§6.7.2.8 step 3.2: not ws from an https page"),
    ("'self'", "http://x.com:3000/", "ws://x.com:3000/", [T, T, T, T], "§6.7.2.8 step 3.2: ws from an http page"),
    ("'self'", "http://x.com:3000/", "wss://x.com:3000/", [T, T, T, T], "§6.7.2.8 step 3.2: wss from an http page"),
    ("'self'", "http://x.com/", "https://x.com/", [T, T, T, T], "§6.7.2.8 step 3.2: both on default ports"),
    ("'self'", "https://x.com/", "http://x.com/", [F, F, F, F], "§6.7.2.8 step 3: no downgrade"),
    ("'self'", "http://localhost:3000/", "http://127.0.0.1:3000/", [F, F, F, F], "'self' compares hosts as written"),
    ("'self'", "http://x.com:3000/", "ws://x.com:3001/", [F, F, F, F], "§6.7.2.8 step 3.2: same port"),
    ("http://127.0.0.1:3000", "http://a.com/", "http://127.0.0.1:3000/", [F, T, T, T], "§6.7.2.10 step 1 vs browsers: IP-literal sources match (#15)"),
    ("http://localhost:3000", "http://a.com/", "http://127.0.0.1:3000/", [F, F, F, F], "a name never matches an IP"),
    ("'none'", "https://x.com/", "https://x.com/", [F, F, F, F], "'none' allows nothing"),
    ("'none' 'self'", "https://x.com/", "https://x.com/", [T, T, T, T], "browsers ignore 'none' next to other sources"),
    ("self", "https://x.com/", "https://x.com/", [F, F, F, F], "unquoted self is a host name"),
    ("'SELF'", "https://x.com/", "https://x.com/", [T, T, T, T], "keywords are case-insensitive"),
    ("'unsafe-webtransport-hashes'", "https://x.com/", "https://x.com/", [F, F, F, F], "CSP3's WebTransport keyword allows no URL"),
    // Measured in all three engines (docs/engine-probe/FINDINGS.md).
    ("http://*", "http://a.com/", "http://127.0.0.1/", [F, T, T, T], "browsers match IPs as text: * host (#132)"),
    ("http://*.0.0.1", "http://a.com/", "http://127.0.0.1/", [F, T, T, T], "browsers match IPs as text: *.0.0.1 is a suffix (#133)"),
    ("http://*:*", "http://a.com/", "http://127.0.0.1:8082/", [F, T, T, T], "browsers match IPs as text (#78)"),
    ("http://*", "http://a.com/", "http://127.0.0.1:8082/", [F, F, F, F], "the port still has to match (#76)"),
    ("http://*.localhost", "http://a.com/", "http://localhost/", [F, F, F, F], "a wildcard never matches its bare parent (#137)"),
    ("http://a.com:80", "http://b.com/", "https://a.com:80/", [T, F, T, T], "Chromium alone refuses the upgrade with port 80 kept (#19)"),
    ("http://a.com", "http://b.com/", "https://a.com:80/", [F, F, T, F], "Firefox: a port-less source keeps its default port through an upgrade (#149)"),
    ("ws://a.com", "http://b.com/", "wss://a.com:80/", [F, F, T, F], "Firefox: ws://h allows wss://h:80 (#91)"),
    ("ws://a.com:8081", "http://b.com/", "wss://a.com:8081/", [T, F, T, T], "Chromium drops an explicit port on upgrade (#95)"),
    ("http://a.com:8081", "http://b.com/", "https://a.com/", [F, F, F, F], "an explicit non-80 port never reaches 443 (#147)"),
    ("'self'", "http://a.com/", "http://a.com:443/", [F, F, T, T], "Firefox, WebKit: 'self' on port 80 reaches :443 (#66)"),
    ("'self'", "http://a.com/", "https://a.com:80/", [F, T, T, F], "Chromium, Firefox: 'self' on port 80 keeps it through an upgrade (#67)"),
    ("'self'", "https://a.com/", "https://a.com:80/", [F, F, F, F], "no engine reaches port 80 from an https page (#73)"),
    ("'self'", "https://a.com/", "http://a.com:443/", [F, F, F, F], "nor http on 443 (#74)"),
    ("'self'", "http://a.com:8081/", "https://a.com:8081/", [T, T, T, T], "'self' upgrades on its own port (#143)"),
    ("http://b.com.:8082", "http://a.com/", "http://b.com.:8082/", [T, T, F, T], "Firefox: a trailing-dot source matches nothing (#87)"),
    ("http://b.com:8082", "http://a.com/", "http://b.com.:8082/", [F, F, F, F], "a trailing dot is part of the host (#89)"),
    ("http://a.com:08082", "http://b.com/", "http://a.com:8082/", [T, T, F, T], "Firefox: a port with leading zeros matches nothing (#81)"),
    ("http://a.com:080", "http://b.com/", "http://a.com/", [T, T, F, T], "Firefox: :080 is not port 80 (#85)"),
    ("'self' http://a.com:8081/svc?x=1", "http://p.com/", "http://a.com:8081/svc", [F, T, T, T], "browsers drop a source's query and keep it (#30)"),
    ("'self' http://a.com:8081/svc?x=1", "http://p.com/", "http://a.com:8081/svc?y=2", [F, T, T, T], "the target's query never counts (#31)"),
    ("'self' http://a.com:8081/svc#f", "http://p.com/", "http://a.com:8081/other", [F, F, F, F], "the kept path still decides (#36)"),
    ("http://a.com:8081 http://b\u{fc}cher.com", "http://a.com:8081/", "http://c.com/x", [T, T, T, T], "a non-ASCII directive is dropped whole, so nothing restricts (#22)"),
    ("http://a.com\u{a0}http://c.com", "http://p.com/", "http://b.com/x", [T, T, T, T], "a no-break space is non-ASCII: dropped (#49)"),
    ("\u{2018}none\u{2019}", "http://p.com/", "http://b.com/x", [T, T, T, T], "curly quotes are non-ASCII: dropped (#60)"),
    ("http://a.com\u{b}http://c.com", "http://p.com/", "http://c.com/x", [F, T, T, T], "VT: Chromium and Firefox drop the directive, WebKit separates; the spec text has one invalid token (#42)"),
    ("http://a.com\u{b}http://c.com", "http://p.com/", "http://b.com/x", [F, T, T, F], "VT: WebKit alone still restricts (#43)"),
    ("http://a.loc\u{7f}al.com http://c.com", "http://p.com/", "http://c.com/x", [T, T, T, T], "DEL drops the directive in every engine; the spec keeps c (#57)"),
    ("http://a.loc\u{7f}al.com http://c.com", "http://p.com/", "http://b.com/x", [F, T, T, T], "DEL: browsers restrict nothing (#58)"),
    ("http://a.com\u{1}http://c.com", "http://p.com/", "http://b.com/x", [F, T, T, T], "U+0001 drops the directive in every engine (#157)"),
    ("http://a.com\u{c}http://c.com", "http://p.com/", "http://c.com/x", [T, T, T, T], "form feed is ASCII whitespace (#54)"),
    ("a.com", "http://b.com/", "http://a.com:443/", [F, F, T, F], "WebKit: a scheme-less source's implied port 80 stays 80 (browser suite)"),
    ("http://a.com", "http://b.com/", "http://a.com:443/", [F, F, T, T], "WebKit: with its scheme written, port 80 reaches 443 (browser suite)"),
];

#[test]
fn verdict_table() {
    let mut failures = Vec::new();
    for (policy, page, target, want, why) in ROWS {
        let v = BrowserPolicy::parse(policy).check(page, target).unwrap();
        let got = Engine::ALL.map(|e| v.get(e));
        if got != *want {
            failures.push(format!(
                "{policy:?} on {page} -> {target}: got {got:?}, want {want:?} ({why})"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("matcher table: {} rows", ROWS.len());
}

/// A typed list and the same text read as browsers read it agree, wherever the typed list
/// serializes to that text (it normalizes: `:08082` becomes `:8082`, IDN hosts punycode).
#[test]
fn strict_list_and_browser_parse_agree() {
    let mut compared = 0;
    for (policy, page, target, _, _) in ROWS {
        let Ok(list) = policy.parse::<connect_src::ConnectSrc>() else {
            continue;
        };
        if list.value().eq_ignore_ascii_case(policy) {
            compared += 1;
            assert_eq!(
                list.check(page, target).unwrap(),
                BrowserPolicy::parse(policy).check(page, target).unwrap(),
                "{policy} {target}"
            );
        }
    }
    assert!(compared > 50, "{compared}");
}

/// The six cases of issue 14, as real browsers answered them.
#[test]
fn policy_text_read_as_browsers_read_it() {
    let check = |policy: &str, header: bool, page: &str, target: &str| {
        let p = if header {
            BrowserPolicy::from_header(policy)
        } else {
            BrowserPolicy::parse(policy)
        };
        let v = p.check(page, target).unwrap();
        Engine::ALL.map(|e| v.get(e))
    };
    let app = "https://app.example.com/";
    assert_eq!(
        check("*", false, app, "wss://rt.example.net/s")[3],
        T,
        "WebKit: * allows wss"
    );
    assert_eq!(
        check(
            "http://127.0.0.1:8080",
            false,
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8080/api"
        )[3],
        T
    );
    assert_eq!(
        check(
            "http://example.com:80",
            false,
            "http://app.example.com/",
            "https://example.com/"
        )[3],
        T
    );
    assert_eq!(
        check(
            "https://api.example.com https://b\u{fc}cher.example",
            false,
            app,
            "https://evil.example/"
        ),
        [T; 4],
        "a directive holding non-ASCII is dropped whole"
    );
    assert_eq!(
        check(
            "default-src 'none'; connect-src https://api.example.com https://b\u{fc}cher.example",
            true,
            app,
            "https://api.example.com/v1"
        ),
        [F; 4],
        "connect-src dropped, default-src decides"
    );
    let q = check(
        "'self' https://data.example.com/svc?x=1",
        false,
        app,
        "https://data.example.com/svc?x=1",
    );
    assert_eq!(
        &q[1..],
        &[T, T, T],
        "browsers keep the source and ignore its query"
    );
    assert!(!q[0], "by the spec text the source is invalid");
}

#[test]
fn a_dropped_directive_does_not_hide_a_later_one() {
    let p = BrowserPolicy::from_header(
        "connect-src https://b\u{fc}cher.example; connect-src https://ok.example",
    );
    let v = p
        .check("https://a.example/", "https://ok.example/")
        .unwrap();
    assert!(v.everywhere());
    let v = p
        .check("https://a.example/", "https://other.example/")
        .unwrap();
    assert!(v.nowhere());
    assert!(
        p.warnings().iter().any(|w| w.contains("non-ASCII")),
        "{:?}",
        p.warnings()
    );
}

/// Policies (header, `<meta>`s) asked about connections: the API, redirect chains and
/// `upgrade-insecure-requests`, measured by tests/browsers.rs (docs/browsers.md). Columns:
/// header, metas, page, API, connection, [spec, chromium, firefox, webkit], why.
type ConnectionRow = (
    &'static str,
    &'static [&'static str],
    &'static str,
    Api,
    &'static str,
    [bool; 4],
    &'static str,
);

#[rustfmt::skip]
const CONNECTIONS: &[ConnectionRow] = &[
    // upgrade-insecure-requests, per API.
    ("connect-src https://api.example; upgrade-insecure-requests", &[], "https://app.example/", Api::Fetch, "http://api.example/a", [T, F, T, T], "Chromium judges fetch() as written as well as upgraded"),
    ("connect-src https://api.example; upgrade-insecure-requests", &[], "https://app.example/", Api::Beacon, "http://api.example/a", [T, F, T, F], "Chromium: sendBeacon() like fetch(); WebKit judges it before the upgrade"),
    ("connect-src https://api.example; upgrade-insecure-requests", &[], "https://app.example/", Api::Xhr, "http://api.example/a", [T, T, T, T], "XHR: judged upgraded (Firefox: the policy lets http match its https source)"),
    ("connect-src https://api.example; upgrade-insecure-requests", &[], "https://app.example/", Api::EventSource, "http://api.example/a", [T, T, T, F], "WebKit judges EventSource before the upgrade"),
    ("connect-src wss://api.example; upgrade-insecure-requests", &[], "https://app.example/", Api::WebSocket, "ws://api.example/s", [T, T, T, T], "ws: becomes wss: in every engine"),
    ("connect-src http://api.example:8080; upgrade-insecure-requests", &[], "http://app.example/", Api::Xhr, "http://api.example:8080/a", [T, F, T, T], "upgraded to https://api.example:8080, which Chromium's http://h:8080 does not reach"),
    ("connect-src https://localhost:8443; upgrade-insecure-requests", &[], "https://localhost:8443/", Api::Xhr, "http://localhost:8443/a", [T, F, T, T], "Chromium never upgrades a loopback name"),
    ("connect-src https://api.example, upgrade-insecure-requests", &[], "http://app.example/", Api::Xhr, "http://api.example/a", [T, T, F, T], "Firefox: only the policy holding the directive lets http match https"),
    ("connect-src https://api.example:443; upgrade-insecure-requests", &[], "http://app.example/", Api::Xhr, "http://api.example/a", [T, T, F, T], "Firefox judges the URL as written: port 80 is not 443"),
    ("connect-src 'self'; upgrade-insecure-requests", &[], "https://app.example/", Api::WebSocket, "ws://app.example/s", [T, T, F, T], "Firefox: 'self' of an https page refuses ws: as written"),
    ("connect-src 'self'; upgrade-insecure-requests", &[], "http://app.example:8080/", Api::WebSocket, "ws://app.example:8080/s", [T, T, T, T], "'self' of an http page allows ws: to its own host and port"),
    ("connect-src https://api.example", &["upgrade-insecure-requests"], "http://app.example/", Api::Xhr, "http://api.example/a", [T, T, F, T], "the directive works in a <meta>; Firefox relaxes only its own (listless) policy"),
    // Redirect chains: paths on the first hop only.
    ("connect-src https://api.example/v1/", &[], "https://app.example/", Api::Fetch, "https://api.example/v1/a -> https://api.example/other", [T, T, T, T], "\u{a7}6.7.2.12: a path-part is not asked of a redirect"),
    ("connect-src https://api.example/v1/", &[], "https://app.example/", Api::Fetch, "https://api.example/other -> https://api.example/v1/a", [F, F, F, F], "the first hop keeps its path check"),
    ("connect-src https://api.example/v1/", &[], "https://app.example/", Api::Xhr, "https://api.example/v1/a -> https://evil.example/", [F, F, F, F], "every hop is judged"),
    ("connect-src 'self' https://api.example", &[], "https://app.example/", Api::Beacon, "https://app.example/a -> https://api.example/b -> https://app.example/c", [T, T, T, T], "three hops, each allowed"),
    ("connect-src http://api.example:8080", &[], "http://app.example/", Api::Fetch, "http://api.example:8080/a -> https://api.example:8080/b", [T, F, T, T], "a redirect that upgrades keeps Chromium's explicit-port rule"),
    ("connect-src https://api.example; upgrade-insecure-requests", &[], "http://app.example/", Api::Fetch, "https://api.example/a -> http://api.example/b", [T, T, T, T], "engines judge a redirect's URL upgraded (Firefox: relaxed)"),
    // <meta>.
    ("", &["connect-src 'self', img-src *"], "https://app.example/", Api::Fetch, "https://evil.example/", [T, F, T, F], "a ',' in a <meta> starts a policy in Chromium and WebKit; Firefox reads `*`"),
    ("connect-src *", &["connect-src 'self'"], "https://app.example/", Api::Fetch, "https://evil.example/", [F, F, F, F], "a header and a <meta>: both apply"),
    ("", &["connect-src 'self' https://a.example", "connect-src https://a.example"], "https://app.example/", Api::Fetch, "https://app.example/x", [F, F, F, F], "two <meta>s: both apply"),
    // blob: and data: match only their own scheme-source.
    ("connect-src 'self' *", &[], "https://app.example/", Api::Fetch, "blob:https://app.example/6f1a2b3c-0000-4000-8000-000000000000", [F, F, F, F], "a blob: URL is not 'self', nor *"),
    ("connect-src blob:", &[], "https://app.example/", Api::Xhr, "blob:https://app.example/6f1a2b3c-0000-4000-8000-000000000000", [T, T, T, T], "only blob: allows it"),
    ("connect-src 'self' blob:", &[], "https://app.example/", Api::Fetch, "data:text/plain,x", [F, F, F, F], "nor does blob: allow data:"),
    // Wildcard hosts with ports.
    ("connect-src http://*.api.example:8080", &[], "http://app.example/", Api::Fetch, "https://a.api.example:8080/", [T, F, T, T], "a wildcard host keeps the port rules of a named one"),
    ("connect-src ws://api.example", &[], "http://app.example/", Api::WebSocket, "ws://api.example:443/", [F, F, T, F], "WebKit: a port-less ws source's implied port 80 does not reach 443"),
    ("connect-src ws://*.example:80", &[], "http://app.example/", Api::WebSocket, "ws://api.example:443/", [F, F, T, T], "a written :80 does, in Firefox and WebKit"),
];

#[test]
fn connection_table() {
    let mut failures = Vec::new();
    for (header, metas, page, api, connection, want, why) in CONNECTIONS {
        let mut policy = BrowserPolicy::from_header(header);
        for m in *metas {
            policy = policy.and(BrowserPolicy::from_meta(m));
        }
        let c = connection.parse::<Connection>().unwrap().with_api(*api);
        let v = policy.check_connection(page, &c).unwrap();
        let got = Engine::ALL.map(|e| v.get(e));
        if got != *want {
            failures.push(format!(
                "[{header}] + {metas:?} on {page} -> {connection} ({api}): got {got:?}, want {want:?} ({why})"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Without `upgrade-insecure-requests` the API changes nothing (but that a WebSocket opens
/// `ws:`/`wss:` for an `http:`/`https:` URL), and `check` is `check_connection` with the
/// API the URL implies.
#[test]
fn check_is_the_default_api() {
    for (policy, page, target, _, _) in ROWS {
        let p = BrowserPolicy::parse(policy);
        let v = p.check(page, target).unwrap();
        let websocket = Api::for_url(target) == Api::WebSocket;
        for api in Api::ALL
            .into_iter()
            .filter(|a| websocket || *a != Api::WebSocket)
        {
            let c = Connection::new(*target).with_api(api);
            if let Ok(w) = p.check_connection(page, &c) {
                assert_eq!(v, w, "{policy} {target} {api}");
            }
        }
    }
}

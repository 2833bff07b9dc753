//! The matcher's verdicts, one row per rule or browser behaviour, each citing what it pins
//! down. Columns: spec, chromium, firefox, webkit. Browser columns are what headless
//! Chromium and Firefox ESR do (tests/browsers.rs measures them); WebKit follows the spec.

use connect_src::matcher::{BrowserPolicy, Engine};

const T: bool = true;
const F: bool = false;

#[rustfmt::skip]
const ROWS: &[(&str, &str, &str, [bool; 4], &str)] = &[
    // policy, page, target, [spec, chromium, firefox, webkit], why
    ("*", "https://a.com/", "https://b.com/", [T, T, T, T], "§6.7.2.8 step 1: * matches http(s)"),
    ("*", "https://a.com/", "http://b.com/", [T, T, T, T], "§6.7.2.8 step 1: * matches http from an https page"),
    ("*", "https://a.com/", "wss://b.com/", [F, T, T, F], "§6.7.2.8 step 1 excludes wss on https pages; browsers allow"),
    ("*", "http://a.com/", "ws://b.com/", [F, T, T, F], "§6.7.2.8 step 1 excludes ws; browsers allow"),
    ("*", "https://a.com/", "data:text/plain,x", [F, F, F, F], "§6.7.2.8 step 1: * does not cover data:"),
    ("*", "https://a.com/", "blob:https://a.com/1", [F, F, F, F], "§6.7.2.8 step 1: * does not cover blob:"),
    ("*", "http://a.com/", "http://127.0.0.1/", [T, T, T, T], "§6.7.2.8 step 1: bare * has no host step"),
    ("https:", "https://a.com/", "https://b.com/", [T, T, T, T], "§6.7.2.9 step 1: same scheme"),
    ("http:", "https://a.com/", "https://b.com/", [T, T, T, T], "§6.7.2.9 step 2: http upgrades to https"),
    ("https:", "https://a.com/", "http://b.com/", [F, F, F, F], "§6.7.2.9: no downgrade"),
    ("https:", "https://a.com/", "wss://b.com/", [F, F, F, F], "§6.7.2.9: https does not cover wss"),
    ("ws:", "https://a.com/", "wss://b.com/", [T, T, T, T], "§6.7.2.9 step 3: ws upgrades to wss"),
    ("ws:", "https://a.com/", "http://b.com/", [T, F, F, T], "§6.7.2.9 step 3: ws covers http; browsers keep families apart"),
    ("ws:", "https://a.com/", "https://b.com/", [T, F, F, T], "§6.7.2.9 step 3: ws covers https; browsers keep families apart"),
    ("wss:", "https://a.com/", "https://b.com/", [T, F, F, T], "§6.7.2.9 step 4: wss covers https; browsers keep families apart"),
    ("wss:", "https://a.com/", "ws://b.com/", [F, F, F, F], "§6.7.2.9: no downgrade"),
    ("https://api.x.com", "https://x.com/", "wss://api.x.com/", [F, F, F, F], "§6.7.2.9: https://h does not allow wss://h"),
    ("wss://api.x.com", "https://x.com/", "wss://api.x.com/s", [T, T, T, T], "§6.7.2.8 step 2.2: exact wss origin"),
    ("wss://api.x.com", "https://x.com/", "https://api.x.com/", [T, F, F, T], "§6.7.2.9 step 4 vs browser families"),
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
    ("http://x.com:80", "http://x.com/", "https://x.com/", [F, T, T, F], "browsers: port 80 upgrades to 443; §6.7.2.11 does not"),
    ("http://x.com:8001", "http://x.com/", "https://x.com:8001/", [T, F, T, T], "Chromium drops an explicit port on upgrade; Firefox and the spec keep it"),
    ("http://x.com:80", "http://x.com/", "http://x.com:443/", [F, F, T, F], "Firefox: port 80 matches 443 without an upgrade"),
    ("http://x.com", "http://x.com/", "http://x.com:443/", [F, F, T, F], "Firefox: an implied port 80 matches 443 too"),
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
    ("http://127.0.0.1:3000", "http://a.com/", "http://127.0.0.1:3000/", [F, T, T, F], "§6.7.2.10 step 1 vs browsers: IP-literal sources match"),
    ("http://localhost:3000", "http://a.com/", "http://127.0.0.1:3000/", [F, F, F, F], "a name never matches an IP"),
    ("'none'", "https://x.com/", "https://x.com/", [F, F, F, F], "'none' allows nothing"),
    ("'none' 'self'", "https://x.com/", "https://x.com/", [T, T, T, T], "browsers ignore 'none' next to other sources"),
    ("self", "https://x.com/", "https://x.com/", [F, F, F, F], "unquoted self is a host name"),
    ("'SELF'", "https://x.com/", "https://x.com/", [T, T, T, T], "keywords are case-insensitive"),
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

#[test]
fn strict_list_and_browser_parse_agree() {
    for (policy, page, target, _, _) in ROWS {
        if let Ok(list) = policy.parse::<connect_src::ConnectSrc>() {
            assert_eq!(
                list.check(page, target).unwrap(),
                BrowserPolicy::parse(policy).check(page, target).unwrap(),
                "{policy} {target}"
            );
        }
    }
}

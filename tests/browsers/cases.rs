//! The cases: pages, each with its policy and the connections it attempts. `{p1}` is the
//! page's port, `{p2}` a second listener; pages and targets without a port use the
//! listeners on 127.0.0.1:80 and :443, when the suite could bind them. Every listener
//! speaks HTTP and HTTPS on the same port (a request upgraded by
//! `upgrade-insecure-requests` keeps its port). Hosts are loopback names, except
//! `uir.test` and `c.uir.test` (engines.rs: mapped to 127.0.0.1 in each browser), which
//! `upgrade-insecure-requests` needs. Which engine does what is in
//! docs/engine-probe/FINDINGS.md (the probe numbers below, `#n`, are its) and
//! docs/browsers.md.
//!
//! A target is a URL, `blob:` (a blob URL the page makes of its own origin), or a redirect
//! chain `URL -> URL [-> URL]` (the server answers each hop but the last with a redirect).

/// What the page's enforced policy is.
pub(crate) enum Csp {
    /// A connect-src value; the header is `connect-src {value}; report-uri /csp-reports`.
    ConnectSrc(&'static str),
    /// Whole `Content-Security-Policy` header values, byte for byte (non-ASCII bytes
    /// included), one per header; none: no enforced policy. Every policy in them that can
    /// block names `report-uri /csp-reports`, so every block must be reported.
    Headers(&'static [&'static [u8]]),
}

/// A policy `<meta>` in the page.
#[derive(Clone, Copy)]
pub(crate) enum Meta {
    /// `<meta http-equiv="Content-Security-Policy" content="…">` in `<head>`: enforced.
    Head(&'static str),
    /// The same in `<body>`: ignored (HTML: the pragma only works in `<head>`).
    InBody(&'static str),
    /// `<meta http-equiv="Content-Security-Policy-Report-Only">` in `<head>`: ignored.
    ReportOnly(&'static str),
}

/// A page: its origin, its enforced policy, an optional report-only connect-src value, its
/// policy `<meta>`s, and the connections it attempts: (target template, API).
pub(crate) struct Group {
    pub(crate) page: &'static str,
    pub(crate) csp: Csp,
    pub(crate) report_only: Option<&'static str>,
    pub(crate) metas: Vec<Meta>,
    pub(crate) targets: Vec<(&'static str, &'static str)>,
}

impl Group {
    /// The page sits on the default port (80): it needs the port-80 listener.
    pub(crate) fn on_default_port(&self) -> bool {
        !self
            .page
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.starts_with('{') || p.parse::<u16>().is_ok())
    }
    /// The enforced + report-only group that checks how report-only is reported.
    pub(crate) fn is_report_only_check(&self) -> bool {
        matches!(self.csp, Csp::ConnectSrc("'self'")) && self.report_only == Some("'none'")
    }
}

const A: &str = "http://a.localhost:{p1}";
/// A page on another host, for sources naming a.localhost.
const B: &str = "http://b.localhost:{p1}";
const IP: &str = "http://127.0.0.1:{p1}";
/// Pages on the default port 80.
const A80: &str = "http://a.localhost";

pub(crate) fn groups() -> Vec<Group> {
    let g = |page, policy, targets: &[(&'static str, &'static str)]| Group {
        page,
        csp: Csp::ConnectSrc(policy),
        report_only: None,
        metas: Vec::new(),
        targets: targets.to_vec(),
    };
    let h = |page, headers, targets: &[(&'static str, &'static str)]| Group {
        page,
        csp: Csp::Headers(headers),
        report_only: None,
        metas: Vec::new(),
        targets: targets.to_vec(),
    };
    let mut all = vec![
        g(
            A,
            "'self'",
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://a.localhost:{p1}/hit", "xhr"),
                ("http://a.localhost:{p1}/hit", "eventsource"),
                ("http://a.localhost:{p1}/hit", "beacon"),
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("wss://a.localhost:{p1}/ws", "ws"),
                ("https://a.localhost:{p1}/hit", "fetch"),
                ("http://a.localhost:{p2}/hit", "fetch"),
                ("ws://a.localhost:{p2}/ws", "ws"),
                ("http://localhost:{p1}/hit", "fetch"),
                ("http://127.0.0.1:{p1}/hit", "fetch"),
                ("http://b.a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit", "eventsource"),
                ("http://c.localhost:{p2}/hit", "beacon"),
            ],
        ),
        g(
            IP,
            "'self'",
            &[
                ("http://127.0.0.1:{p1}/hit", "fetch"),
                ("ws://127.0.0.1:{p1}/ws", "ws"),
                ("http://localhost:{p1}/hit", "fetch"),
                ("ws://localhost:{p1}/ws", "ws"),
            ],
        ),
        g(
            A,
            "*",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("data:text/plain,x", "fetch"),
                ("http://c.localhost:{p2}/hit", "beacon"),
            ],
        ),
        g(
            A,
            "http:",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "https:",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("wss://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "ws:",
            &[
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "wss:",
            &[
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit", "eventsource"),
                ("http://c.localhost:{p2}/hit", "beacon"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p1}/hit", "fetch"),
                ("http://d.c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "ws://c.localhost:{p2}",
            &[
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://*.a.localhost:{p2}",
            &[
                ("http://b.a.localhost:{p2}/hit", "fetch"),
                ("http://x.b.a.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p2}/hit", "fetch"),
                ("ws://b.a.localhost:{p2}/ws", "ws"),
                ("http://b.a.localhost:{p1}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "ws://*.a.localhost:{p2}",
            &[
                ("ws://b.a.localhost:{p2}/ws", "ws"),
                ("ws://a.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "http://c.localhost:*",
            &[
                ("http://c.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "c.localhost:{p2}",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}/api/",
            &[
                ("http://c.localhost:{p2}/api/x", "fetch"),
                ("http://c.localhost:{p2}/api/", "fetch"),
                ("http://c.localhost:{p2}/api", "fetch"),
                ("http://c.localhost:{p2}/apix", "fetch"),
                ("http://c.localhost:{p2}/API/x", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}/api",
            &[
                ("http://c.localhost:{p2}/api", "fetch"),
                ("http://c.localhost:{p2}/api/", "fetch"),
                ("http://c.localhost:{p2}/api/x", "fetch"),
                ("http://c.localhost:{p2}/API", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}/a%20b",
            &[
                ("http://c.localhost:{p2}/a%20b", "fetch"),
                ("http://c.localhost:{p2}/a%2Fb", "fetch"),
            ],
        ),
        g(
            A,
            "http://127.0.0.1:{p2}",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://localhost:{p2}",
            &[
                ("http://localhost:{p2}/hit", "fetch"),
                ("http://127.0.0.1:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "'none'",
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("ws://a.localhost:{p1}/ws", "ws"),
            ],
        ),
        g(
            A,
            "'none' 'self'",
            &[("http://a.localhost:{p1}/hit", "fetch")],
        ),
        g(A, "self", &[("http://a.localhost:{p1}/hit", "fetch")]),
        g(
            A,
            "'SELF' 'unsafe-inline'",
            &[("http://a.localhost:{p1}/hit", "fetch")],
        ),
        g(
            A,
            "http://c.localhost",
            &[
                ("http://c.localhost:443/hit", "fetch"),
                ("http://c.localhost/hit", "fetch"),
                ("https://c.localhost/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost/ws", "ws"),
            ],
        ),
        g(
            A,
            "http://c.localhost:80",
            &[
                ("https://c.localhost:80/hit", "fetch"),
                ("http://c.localhost/hit", "fetch"),
                ("https://c.localhost/hit", "fetch"),
                ("http://c.localhost:443/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:443",
            &[("https://c.localhost/hit", "fetch")],
        ),
        g(
            A,
            "http://c.localhost.:{p2}",
            &[("http://c.localhost:{p2}/hit", "fetch")],
        ),
        g(
            A,
            "ws://c.localhost:80",
            &[
                ("wss://c.localhost/ws", "ws"),
                ("ws://c.localhost/ws", "ws"),
            ],
        ),
        g(
            A,
            "https://c.localhost:{p2}",
            &[
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "wss://c.localhost:{p2}",
            &[
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
    ];
    all.extend(more_apis(g));
    all.extend(default_ports(g));
    all.extend(wildcards_and_ip(g));
    all.extend(port_text_and_dots(g));
    all.extend(websocket_schemes(g));
    all.extend(query_and_fragment(g));
    all.extend(non_ascii(h));
    all.extend(whole_headers(h));
    all.extend(upgrade_insecure_requests(h));
    all.extend(redirects(g, h));
    all.extend(meta_policies());
    all.extend(blob_and_data(g));
    all.extend(wildcard_hosts_with_ports(g));
    all.push(Group {
        page: A,
        csp: Csp::ConnectSrc("*"),
        report_only: Some("'self'"),
        metas: Vec::new(),
        targets: vec![
            ("http://c.localhost:{p2}/hit", "fetch"),
            ("http://a.localhost:{p1}/hit", "fetch"),
            ("ws://c.localhost:{p2}/ws", "ws"),
        ],
    });
    all.push(Group {
        page: A,
        csp: Csp::ConnectSrc("'self'"),
        report_only: Some("*"),
        metas: Vec::new(),
        targets: vec![
            ("http://c.localhost:{p2}/hit", "fetch"),
            ("http://a.localhost:{p1}/hit", "fetch"),
        ],
    });
    // Report-only alone: nothing enforced.
    all.push(Group {
        page: A,
        csp: Csp::Headers(&[]),
        report_only: Some("'self'"),
        metas: Vec::new(),
        targets: vec![
            ("http://c.localhost:{p2}/hit", "fetch"),
            ("http://a.localhost:{p1}/hit", "fetch"),
            ("http://c.localhost:{p2}/hit", "xhr"),
        ],
    });
    all.push(Group {
        page: A,
        csp: Csp::ConnectSrc("'self'"),
        report_only: Some("'none'"),
        metas: Vec::new(),
        targets: vec![
            ("http://a.localhost:{p1}/hit", "fetch"),
            ("http://c.localhost:{p2}/hit", "fetch"),
        ],
    });
    all
}

type G = fn(&'static str, &'static str, &[(&'static str, &'static str)]) -> Group;
type H = fn(&'static str, &'static [&'static [u8]], &[(&'static str, &'static str)]) -> Group;

/// Every API connect-src governs (#116–128): XHR, sendBeacon, EventSource, `<a ping>`
/// (Firefox with `browser.send_pings` on), and Chromium's `fetchLater`.
fn more_apis(g: G) -> Vec<Group> {
    vec![
        g(
            A,
            "'self'",
            &[
                ("http://a.localhost:{p1}/hit", "ping"),
                ("http://c.localhost:{p2}/hit", "ping"),
                ("http://a.localhost:{p1}/hit", "fetchLater"),
                ("http://c.localhost:{p2}/hit", "fetchLater"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("http://a.localhost:{p2}/hit", "beacon"),
                ("http://a.localhost:{p2}/hit", "eventsource"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "'none'",
            &[
                ("http://a.localhost:{p1}/hit", "ping"),
                ("http://a.localhost:{p1}/hit", "xhr"),
                ("http://a.localhost:{p1}/hit", "beacon"),
                ("http://a.localhost:{p1}/hit", "eventsource"),
                ("http://a.localhost:{p1}/hit", "fetchLater"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}",
            &[
                ("http://c.localhost:{p2}/hit", "ping"),
                ("http://c.localhost:{p2}/hit", "fetchLater"),
                ("http://a.localhost:{p1}/hit", "ping"),
                ("http://a.localhost:{p1}/hit", "xhr"),
                ("http://a.localhost:{p1}/hit", "beacon"),
            ],
        ),
        g(
            A,
            "*",
            &[
                ("http://c.localhost:{p2}/hit", "ping"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit", "eventsource"),
                ("http://c.localhost:{p2}/hit", "fetchLater"),
                ("http://127.0.0.1:{p2}/hit", "xhr"),
            ],
        ),
    ]
}

/// `'self'` on a page on port 80, and explicit `:80` sources (#16–21, #62–68, #147–149).
fn default_ports(g: G) -> Vec<Group> {
    vec![
        g(
            A80,
            "'self'",
            &[
                ("http://a.localhost/hit", "fetch"),
                ("http://a.localhost/hit", "xhr"),
                ("http://a.localhost/hit", "beacon"),
                ("http://a.localhost/hit", "eventsource"),
                ("https://a.localhost/hit", "fetch"),
                ("ws://a.localhost/ws", "ws"),
                ("wss://a.localhost/ws", "ws"),
                ("http://a.localhost:443/hit", "fetch"),
                ("http://a.localhost:443/hit", "xhr"),
                ("https://a.localhost:80/hit", "fetch"),
                ("http://b.localhost/hit", "fetch"),
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("ws://a.localhost:{p1}/ws", "ws"),
            ],
        ),
        g(
            A80,
            "http://a.localhost:80",
            &[
                ("http://a.localhost/hit", "fetch"),
                ("http://a.localhost:443/hit", "fetch"),
            ],
        ),
        g(
            B,
            "http://a.localhost:80",
            &[
                ("https://a.localhost/hit", "fetch"),
                ("http://a.localhost:443/hit", "fetch"),
                ("http://a.localhost:443/hit", "xhr"),
                ("http://a.localhost/hit", "fetch"),
                ("http://a.localhost/hit", "beacon"),
                ("https://a.localhost:80/hit", "fetch"),
                ("ws://a.localhost/ws", "ws"),
                ("wss://a.localhost/ws", "ws"),
            ],
        ),
        g(
            B,
            "http://a.localhost",
            &[
                ("https://a.localhost/hit", "fetch"),
                ("https://a.localhost:80/hit", "fetch"),
                ("http://a.localhost:443/hit", "fetch"),
                ("http://a.localhost/hit", "fetch"),
                ("http://a.localhost/hit", "xhr"),
                ("http://a.localhost:{p1}/hit", "fetch"),
            ],
        ),
        g(
            B,
            "http://a.localhost:{p1}",
            &[
                ("https://a.localhost/hit", "fetch"),
                ("https://a.localhost:{p1}/hit", "fetch"),
                ("https://a.localhost:{p1}/hit", "xhr"),
                ("http://a.localhost:{p1}/hit", "fetch"),
            ],
        ),
        g(
            B,
            "a.localhost",
            &[
                ("http://a.localhost/hit", "fetch"),
                ("https://a.localhost/hit", "fetch"),
                ("http://a.localhost:443/hit", "fetch"),
                ("ws://a.localhost/ws", "ws"),
            ],
        ),
    ]
}

/// Host wildcards and IP-literal sources against the IP 127.0.0.1 (#11–15, #75–80,
/// #132–137).
fn wildcards_and_ip(g: G) -> Vec<Group> {
    vec![
        g(
            A,
            "*",
            &[
                ("http://127.0.0.1/hit", "fetch"),
                ("http://127.0.0.1:{p2}/hit", "xhr"),
                ("ws://127.0.0.1:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "http://*",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://127.0.0.1/hit", "fetch"),
                ("http://127.0.0.1/hit", "xhr"),
                ("http://localhost:{p2}/hit", "fetch"),
                ("http://localhost/hit", "fetch"),
                ("http://c.localhost/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://*.0.0.1",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://127.0.0.1/hit", "fetch"),
                ("http://127.0.0.1/hit", "beacon"),
            ],
        ),
        g(
            A,
            "http://*:*",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://127.0.0.1:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://127.0.0.1:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "*.0.0.1:*",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://127.0.0.1/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://*:{p2}",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://127.0.0.1:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://*.localhost",
            &[
                ("http://b.localhost/hit", "fetch"),
                ("http://localhost/hit", "fetch"),
                ("http://b.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            IP,
            "http://127.0.0.1:{p1}",
            &[
                ("http://127.0.0.1:{p1}/hit", "fetch"),
                ("http://127.0.0.1:{p1}/hit", "xhr"),
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("ws://127.0.0.1:{p1}/ws", "ws"),
            ],
        ),
        g(
            IP,
            "'self'",
            &[
                ("http://127.0.0.1:{p1}/hit", "xhr"),
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://127.0.0.1:{p1}",
            &[
                ("http://127.0.0.1:{p1}/hit", "fetch"),
                ("http://localhost:{p1}/hit", "fetch"),
            ],
        ),
    ]
}

/// Port text with leading zeros (#81–85) and trailing-dot hosts (#86–90).
fn port_text_and_dots(g: G) -> Vec<Group> {
    vec![
        g(
            B,
            "http://a.localhost:0{p2}",
            &[
                ("http://a.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p2}/hit", "xhr"),
            ],
        ),
        g(
            B,
            "http://a.localhost:000{p2}",
            &[("http://a.localhost:{p2}/hit", "fetch")],
        ),
        g(
            B,
            "http://a.localhost:080",
            &[
                ("http://a.localhost/hit", "fetch"),
                ("http://a.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            B,
            "http://a.localhost:{p2}",
            &[("http://a.localhost:{p2}/hit", "fetch")],
        ),
        g(
            A,
            "http://c.localhost.:{p2}",
            &[
                ("http://c.localhost.:{p2}/hit", "fetch"),
                ("http://c.localhost.:{p2}/hit", "xhr"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}",
            &[
                ("http://c.localhost.:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "xhr"),
            ],
        ),
        g(
            A,
            "'self'",
            &[
                ("http://a.localhost.:{p1}/hit", "fetch"),
                ("http://a.localhost.:{p1}/hit", "xhr"),
            ],
        ),
    ]
}

/// ws/wss sources against ws/wss targets, and http(s) sources against them (#91–101,
/// #139–142).
fn websocket_schemes(g: G) -> Vec<Group> {
    vec![
        g(
            B,
            "ws://a.localhost",
            &[
                ("wss://a.localhost:80/ws", "ws"),
                ("ws://a.localhost/ws", "ws"),
                ("wss://a.localhost/ws", "ws"),
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("http://a.localhost/hit", "fetch"),
            ],
        ),
        g(
            B,
            "ws://a.localhost:{p1}",
            &[
                ("wss://a.localhost:{p1}/ws", "ws"),
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("http://a.localhost:{p1}/hit", "fetch"),
            ],
        ),
        g(
            B,
            "wss://a.localhost:{p1}",
            &[
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("wss://a.localhost:{p1}/ws", "ws"),
            ],
        ),
        g(
            B,
            "http://a.localhost",
            &[
                ("ws://a.localhost/ws", "ws"),
                ("wss://a.localhost/ws", "ws"),
            ],
        ),
        g(
            B,
            "https://a.localhost",
            &[
                ("wss://a.localhost/ws", "ws"),
                ("https://a.localhost/hit", "fetch"),
                ("http://a.localhost/hit", "fetch"),
            ],
        ),
        g(
            B,
            "http:",
            &[
                ("ws://a.localhost:{p2}/ws", "ws"),
                ("https://a.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p2}/hit", "xhr"),
            ],
        ),
        g(
            B,
            "https:",
            &[
                ("wss://a.localhost:{p2}/ws", "ws"),
                ("http://a.localhost:{p2}/hit", "xhr"),
            ],
        ),
        g(
            B,
            "ws:",
            &[
                ("wss://a.localhost:{p2}/ws", "ws"),
                ("ws://a.localhost/ws", "ws"),
            ],
        ),
        g(
            B,
            "'self'",
            &[
                ("ws://b.localhost:{p1}/ws", "ws"),
                ("wss://b.localhost:{p1}/ws", "ws"),
                ("https://b.localhost:{p1}/hit", "fetch"),
                ("ws://b.localhost/ws", "ws"),
            ],
        ),
    ]
}

/// A query or fragment in a source is dropped, the path kept (#29–40).
fn query_and_fragment(g: G) -> Vec<Group> {
    let targets: &[(&'static str, &'static str)] = &[
        ("http://c.localhost:{p2}/svc?x=1", "fetch"),
        ("http://c.localhost:{p2}/svc", "fetch"),
        ("http://c.localhost:{p2}/svc?y=2", "fetch"),
        ("http://c.localhost:{p2}/other", "fetch"),
        ("http://c.localhost:{p2}/svc", "xhr"),
    ];
    vec![
        g(A, "'self' http://c.localhost:{p2}/svc?x=1", targets),
        g(A, "'self' http://c.localhost:{p2}/svc#f", targets),
        g(A, "'self' http://c.localhost:{p2}/svc", targets),
        g(
            A,
            "http://c.localhost:{p2}/?x",
            &[
                ("http://c.localhost:{p2}/svc", "fetch"),
                ("http://a.localhost:{p2}/svc", "fetch"),
            ],
        ),
    ]
}

/// A non-ASCII byte anywhere in a directive drops that directive (so default-src, if any,
/// decides); TAB separates sources (#22–28, #44–52, #59–61, #152, #163). Control bytes
/// other than TAB cannot go into a hyper header value, so #41–43, #53–58 and #150–165's
/// control-byte cases are not here.
fn non_ascii(h: H) -> Vec<Group> {
    let three: &[(&'static str, &'static str)] = &[
        ("http://a.localhost:{p1}/hit", "fetch"),
        ("http://c.localhost:{p2}/hit", "fetch"),
        ("http://b.localhost:{p2}/hit", "fetch"),
    ];
    vec![
        h(
            A,
            &[b"connect-src http://a.localhost:{p1} http://b\xC3\xBCcher.localhost; report-uri /csp-reports"],
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "xhr"),
            ],
        ),
        h(
            A,
            &[b"connect-src http://a.localhost:{p1} http://b\xFCcher.localhost; report-uri /csp-reports"],
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p1}/hit", "fetch"),
            ],
        ),
        h(
            A,
            &[b"default-src 'none'; script-src 'unsafe-inline'; connect-src http://a.localhost:{p1} http://b\xC3\xBCcher.localhost; report-uri /csp-reports"],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("http://a.localhost:{p1}/hit", "xhr"),
            ],
        ),
        h(
            A,
            &[b"default-src 'self'; script-src 'unsafe-inline'; connect-src http://c.localhost:{p2} \xE2\x80\x98self\xE2\x80\x99; report-uri /csp-reports"],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        h(
            A,
            &[b"default-src 'none'; script-src 'unsafe-inline'; connect-src http://a.localhost:{p1} http://xn--bcher-kva.localhost; report-uri /csp-reports"],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        h(
            A,
            &[b"connect-src http://a.localhost:{p1}\xC2\xA0http://c.localhost:{p2}; report-uri /csp-reports"],
            three,
        ),
        h(
            A,
            &[b"connect-src http://a.localhost:{p1}\xA0http://c.localhost:{p2}; report-uri /csp-reports"],
            three,
        ),
        h(
            A,
            &[b"default-src 'none'; script-src 'unsafe-inline'; connect-src http://a.localhost:{p1}\xC2\xA0http://c.localhost:{p2}; report-uri /csp-reports"],
            three,
        ),
        h(
            A,
            &[b"connect-src http://a.localhost:{p1}\thttp://c.localhost:{p2}; report-uri /csp-reports"],
            three,
        ),
        h(
            A,
            &[b"connect-src \xE2\x80\x98none\xE2\x80\x99; report-uri /csp-reports"],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        h(
            A,
            &[b"connect-src 'none'; report-uri /csp-reports"],
            &[("http://a.localhost:{p1}/hit", "fetch")],
        ),
    ]
}

/// Whole headers: default-src fallback, a duplicated directive (the first wins), two
/// policies joined by a comma or in two headers (both must allow) (#102–109).
fn whole_headers(h: H) -> Vec<Group> {
    let ac: &[(&'static str, &'static str)] = &[
        ("http://a.localhost:{p1}/hit", "fetch"),
        ("http://c.localhost:{p2}/hit", "fetch"),
        ("ws://c.localhost:{p2}/ws", "ws"),
    ];
    vec![
        h(
            A,
            &[b"default-src 'self'; script-src 'unsafe-inline'; report-uri /csp-reports"],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit", "beacon"),
                ("http://c.localhost:{p2}/hit", "eventsource"),
                ("http://a.localhost:{p1}/hit", "eventsource"),
            ],
        ),
        h(
            A,
            &[b"default-src http://c.localhost:{p2}; script-src 'unsafe-inline'; report-uri /csp-reports"],
            ac,
        ),
        h(
            A,
            &[b"default-src 'none'; script-src 'unsafe-inline'; connect-src 'self'; report-uri /csp-reports"],
            ac,
        ),
        h(
            A,
            &[b"default-src *; script-src 'unsafe-inline'; report-uri /csp-reports"],
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("data:text/plain,x", "fetch"),
            ],
        ),
        h(A, &[b"img-src 'none'; report-uri /csp-reports"], ac),
        h(
            A,
            &[b"connect-src http://a.localhost:{p1}; connect-src *; report-uri /csp-reports"],
            ac,
        ),
        h(
            A,
            &[b"connect-src *; connect-src 'self'; report-uri /csp-reports"],
            ac,
        ),
        h(
            A,
            &[b"connect-src *; report-uri /csp-reports, connect-src 'self'; report-uri /csp-reports"],
            ac,
        ),
        h(
            A,
            &[b"connect-src 'self'; report-uri /csp-reports, connect-src *; report-uri /csp-reports"],
            ac,
        ),
        h(
            A,
            &[
                b"connect-src *; report-uri /csp-reports",
                b"connect-src 'self'; report-uri /csp-reports",
            ],
            ac,
        ),
        h(
            A,
            &[
                b"connect-src 'self' http://c.localhost:{p2}; report-uri /csp-reports",
                b"connect-src http://c.localhost:{p2}; report-uri /csp-reports",
            ],
            ac,
        ),
        h(
            A,
            &[b"default-src 'self'; script-src 'unsafe-inline'; report-uri /csp-reports, connect-src *; report-uri /csp-reports"],
            ac,
        ),
    ]
}

/// Pages on a name that is not a loopback name (engines.rs maps it to 127.0.0.1), where
/// `upgrade-insecure-requests` upgrades in every engine, and their https twins.
const U: &str = "http://uir.test:{p1}";
const US: &str = "https://uir.test:{p1}";
const U80: &str = "http://uir.test";
/// An https page on a loopback name.
const AS: &str = "https://a.localhost:{p1}";

/// The same URL by every API: fetch, XHR, EventSource and sendBeacon for `http`, and a
/// WebSocket for `ws`.
fn every_api(http: &'static str, ws: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        (http, "fetch"),
        (http, "xhr"),
        (http, "eventsource"),
        (http, "beacon"),
        (ws, "ws"),
    ]
}

/// `upgrade-insecure-requests`: every API, from http and https pages, on a loopback name
/// (`a.localhost`) and on a name that is not one (`uir.test`), to the page's own host and
/// to other hosts of both kinds, under lists that name only the secure URL, only the
/// insecure one, no scheme, or only schemes.
fn upgrade_insecure_requests(h: H) -> Vec<Group> {
    let c_uir = every_api("http://c.uir.test:{p2}/hit", "ws://c.uir.test:{p2}/ws");
    let c_lo = every_api("http://c.localhost:{p2}/hit", "ws://c.localhost:{p2}/ws");
    let both: Vec<_> = c_uir.iter().chain(&c_lo).copied().collect();
    let mut out = Vec::new();
    for (page, own_http, own_ws) in [
        (U, "http://uir.test:{p1}/hit", "ws://uir.test:{p1}/ws"),
        (US, "http://uir.test:{p1}/hit", "ws://uir.test:{p1}/ws"),
        (A, "http://a.localhost:{p1}/hit", "ws://a.localhost:{p1}/ws"),
        (
            AS,
            "http://a.localhost:{p1}/hit",
            "ws://a.localhost:{p1}/ws",
        ),
    ] {
        let mut own = every_api(own_http, own_ws);
        own.extend([
            ("http://c.uir.test:{p2}/hit", "fetch"),
            ("ws://c.uir.test:{p2}/ws", "ws"),
        ]);
        out.push(h(
            page,
            &[b"connect-src 'self'; upgrade-insecure-requests; report-uri /csp-reports"],
            &own,
        ));
        out.push(h(
            page,
            &[b"connect-src https://c.uir.test:{p2} wss://c.uir.test:{p2} https://c.localhost:{p2} wss://c.localhost:{p2}; upgrade-insecure-requests; report-uri /csp-reports"],
            &both,
        ));
        out.push(h(
            page,
            &[b"connect-src http://c.uir.test:{p2} ws://c.uir.test:{p2} http://c.localhost:{p2} ws://c.localhost:{p2}; upgrade-insecure-requests; report-uri /csp-reports"],
            &both,
        ));
        out.push(h(
            page,
            &[b"connect-src c.uir.test:{p2} c.localhost:{p2}; upgrade-insecure-requests; report-uri /csp-reports"],
            &[
                ("http://c.uir.test:{p2}/hit", "fetch"),
                ("http://c.uir.test:{p2}/hit", "xhr"),
                ("ws://c.uir.test:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ));
        let mut schemes = c_uir.clone();
        schemes.push(("http://c.localhost:{p2}/hit", "fetch"));
        out.push(h(
            page,
            &[b"connect-src https: wss:; upgrade-insecure-requests; report-uri /csp-reports"],
            &schemes,
        ));
    }
    // The same page without the directive: nothing upgraded (and, for Firefox, reports
    // sent: it sends none from an http page on this name that has the directive).
    out.push(h(
        U,
        &[b"connect-src 'self' https://c.uir.test:{p2}; report-uri /csp-reports"],
        &[
            ("http://c.uir.test:{p2}/hit", "fetch"),
            ("http://c.localhost:{p2}/hit", "fetch"),
            ("ws://uir.test:{p1}/ws", "ws"),
        ],
    ));
    // Default ports: http://h/ becomes https://h/ (80 becomes 443).
    let mut own80 = every_api("http://uir.test/hit", "ws://uir.test/ws");
    own80.push(("http://c.uir.test/hit", "fetch"));
    out.extend([
        h(
            U80,
            &[b"connect-src 'self'; upgrade-insecure-requests; report-uri /csp-reports"],
            &own80,
        ),
        h(
            U80,
            &[b"connect-src https://c.uir.test wss://c.uir.test; upgrade-insecure-requests; report-uri /csp-reports"],
            &every_api("http://c.uir.test/hit", "ws://c.uir.test/ws"),
        ),
        h(
            U80,
            &[b"connect-src http://c.uir.test ws://c.uir.test; upgrade-insecure-requests; report-uri /csp-reports"],
            &every_api("http://c.uir.test/hit", "ws://c.uir.test/ws"),
        ),
        h(
            U80,
            &[b"connect-src https://c.uir.test:443 wss://c.uir.test:443; upgrade-insecure-requests; report-uri /csp-reports"],
            &[
                ("http://c.uir.test/hit", "fetch"),
                ("http://c.uir.test/hit", "xhr"),
                ("ws://c.uir.test/ws", "ws"),
            ],
        ),
        // The directive in another policy of the header, or in another header, upgrades
        // every request of the page all the same.
        h(
            U,
            &[b"connect-src https://c.uir.test:{p2}; report-uri /csp-reports, upgrade-insecure-requests"],
            &[
                ("http://c.uir.test:{p2}/hit", "fetch"),
                ("http://c.uir.test:{p2}/hit", "xhr"),
            ],
        ),
        h(
            U,
            &[
                b"connect-src https://c.uir.test:{p2}; report-uri /csp-reports",
                b"upgrade-insecure-requests",
            ],
            &[
                ("http://c.uir.test:{p2}/hit", "fetch"),
                ("http://c.uir.test:{p2}/hit", "eventsource"),
            ],
        ),
    ]);
    out
}

/// Redirect chains: every hop judged, paths only on the first (§6.7.2.8 step 2.2.6), the
/// URL kept or upgraded by a redirect, and `upgrade-insecure-requests` on every hop.
fn redirects(g: G, h: H) -> Vec<Group> {
    vec![
        g(
            A,
            "http://c.localhost:{p2}",
            &[
                ("http://c.localhost:{p2}/hit -> http://c.localhost:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit -> http://d.localhost:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit -> http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit -> http://c.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit -> http://d.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit -> http://c.localhost:{p2}/hit", "eventsource"),
                ("http://c.localhost:{p2}/hit -> http://d.localhost:{p2}/hit", "eventsource"),
                ("http://c.localhost:{p2}/hit -> http://c.localhost:{p2}/hit", "beacon"),
                ("http://c.localhost:{p2}/hit -> http://d.localhost:{p2}/hit", "beacon"),
                ("http://c.localhost:{p2}/hit -> https://c.localhost:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit -> https://c.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit -> http://c.localhost:{p2}/hit -> http://d.localhost:{p2}/hit", "fetch"),
                ("http://d.localhost:{p2}/hit -> http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}/api/",
            &[
                ("http://c.localhost:{p2}/api/x -> http://c.localhost:{p2}/other", "fetch"),
                ("http://c.localhost:{p2}/other -> http://c.localhost:{p2}/api/x", "fetch"),
                ("http://c.localhost:{p2}/api/x -> http://d.localhost:{p2}/api/x", "fetch"),
                ("http://c.localhost:{p2}/api/x -> http://c.localhost:{p2}/other", "xhr"),
                ("http://c.localhost:{p2}/api/x -> http://c.localhost:{p2}/other", "eventsource"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}/api",
            &[
                ("http://c.localhost:{p2}/api -> http://c.localhost:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/api -> http://c.localhost:{p2}/api/x", "fetch"),
            ],
        ),
        g(
            A,
            "'self' http://c.localhost:{p2}",
            &[
                ("http://a.localhost:{p1}/hit -> http://c.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p1}/hit -> http://d.localhost:{p2}/hit", "fetch"),
                // A beacon (no-cors): WebKit does not follow a CORS request back to the
                // page's origin after a cross-origin hop, CSP or not (measured).
                ("http://a.localhost:{p1}/hit -> http://c.localhost:{p2}/hit -> http://a.localhost:{p1}/hit", "beacon"),
                ("http://a.localhost:{p1}/hit -> http://c.localhost:{p2}/hit -> http://d.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p1}/hit -> https://a.localhost:{p1}/hit", "fetch"),
                ("http://a.localhost:{p1}/hit -> http://a.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost",
            &[
                ("http://c.localhost/hit -> https://c.localhost/hit", "fetch"),
                ("http://c.localhost/hit -> http://c.localhost:443/hit", "fetch"),
                ("http://c.localhost/hit -> http://c.localhost/hit", "xhr"),
            ],
        ),
        g(
            A,
            "http://c.localhost:80",
            &[("http://c.localhost/hit -> https://c.localhost/hit", "fetch")],
        ),
        g(
            A,
            "https://c.localhost:{p2}",
            &[
                ("https://c.localhost:{p2}/hit -> http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit -> https://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://*.localhost:{p2}",
            &[
                ("http://c.localhost:{p2}/hit -> https://d.localhost:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit -> http://d.localhost:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit -> http://localhost:{p2}/hit", "fetch"),
            ],
        ),
        h(
            U,
            &[b"connect-src https://c.uir.test:{p2}; upgrade-insecure-requests; report-uri /csp-reports"],
            &[
                ("http://c.uir.test:{p2}/hit -> http://c.uir.test:{p2}/hit", "fetch"),
                ("http://c.uir.test:{p2}/hit -> http://c.uir.test:{p2}/hit", "xhr"),
                ("http://c.uir.test:{p2}/hit -> http://c.uir.test:{p2}/hit", "eventsource"),
                ("http://c.uir.test:{p2}/hit -> http://c.uir.test:{p2}/hit", "beacon"),
                ("https://c.uir.test:{p2}/hit -> http://c.uir.test:{p2}/hit", "fetch"),
                ("https://c.uir.test:{p2}/hit -> http://c.uir.test:{p2}/hit", "xhr"),
                ("https://c.uir.test:{p2}/hit -> http://c.uir.test:{p2}/hit", "eventsource"),
                ("https://c.uir.test:{p2}/hit -> http://c.uir.test:{p2}/hit", "beacon"),
            ],
        ),
        h(
            U,
            &[b"connect-src http://c.uir.test:{p2}; upgrade-insecure-requests; report-uri /csp-reports"],
            &[
                ("http://c.uir.test:{p2}/hit -> http://c.uir.test:{p2}/hit", "fetch"),
                ("http://c.uir.test:{p2}/hit -> http://c.uir.test:{p2}/hit", "xhr"),
                ("http://c.uir.test:{p2}/hit -> http://c.uir.test:{p2}/hit", "eventsource"),
                ("http://c.uir.test:{p2}/hit -> http://c.uir.test:{p2}/hit", "beacon"),
            ],
        ),
    ]
}

/// Policies in `<meta>`: alone, next to a header (all apply), two of them, with a `,`
/// (Chromium and WebKit split there, Firefox does not), with report-uri (ignored: no
/// report), in `<body>` or report-only (ignored), with default-src, and
/// `upgrade-insecure-requests` in a `<meta>`.
fn meta_policies() -> Vec<Group> {
    use Meta::{Head, InBody, ReportOnly};
    let m = |page, csp, metas: &[Meta], targets: &[(&'static str, &'static str)]| Group {
        page,
        csp: Csp::Headers(csp),
        report_only: None,
        metas: metas.to_vec(),
        targets: targets.to_vec(),
    };
    let sc: &[(&'static str, &'static str)] = &[
        ("http://a.localhost:{p1}/hit", "fetch"),
        ("http://c.localhost:{p2}/hit", "fetch"),
    ];
    let scd: &[(&'static str, &'static str)] = &[
        ("http://a.localhost:{p1}/hit", "fetch"),
        ("http://c.localhost:{p2}/hit", "fetch"),
        ("http://d.localhost:{p2}/hit", "fetch"),
    ];
    vec![
        m(
            A,
            &[],
            &[Head("connect-src 'self'")],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("ws://a.localhost:{p1}/ws", "ws"),
            ],
        ),
        m(
            A,
            &[],
            &[Head(
                "connect-src 'self', connect-src http://c.localhost:{p2}",
            )],
            sc,
        ),
        m(
            A,
            &[],
            &[Head("connect-src http://c.localhost:{p2}, img-src *")],
            scd,
        ),
        m(
            A,
            &[],
            &[Head("connect-src http://c.localhost:{p2},img-src *")],
            scd,
        ),
        m(A, &[], &[Head("connect-src 'self',connect-src 'none'")], sc),
        m(
            A,
            &[b"connect-src *; report-uri /csp-reports"],
            &[Head("connect-src 'self'")],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        m(
            A,
            &[b"connect-src 'self' http://c.localhost:{p2}; report-uri /csp-reports"],
            &[Head(
                "connect-src http://c.localhost:{p2} http://d.localhost:{p2}",
            )],
            scd,
        ),
        m(
            A,
            &[],
            &[
                Head("connect-src 'self' http://c.localhost:{p2}"),
                Head("connect-src http://c.localhost:{p2} http://d.localhost:{p2}"),
            ],
            scd,
        ),
        m(A, &[], &[InBody("connect-src 'none'")], sc),
        m(A, &[], &[ReportOnly("connect-src 'none'")], sc),
        m(
            A,
            &[],
            &[Head("connect-src 'self'; report-uri /csp-reports")],
            sc,
        ),
        m(
            A,
            &[],
            &[Head("default-src 'self'; script-src 'unsafe-inline'")],
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        m(
            U,
            &[b"connect-src https://c.uir.test:{p2}; report-uri /csp-reports"],
            &[Head("upgrade-insecure-requests")],
            &[
                ("http://c.uir.test:{p2}/hit", "fetch"),
                ("http://c.uir.test:{p2}/hit", "xhr"),
            ],
        ),
    ]
}

/// `blob:` and `data:` URLs: only the `blob:` / `data:` scheme-source matches them; never
/// `'self'`, `*` or a host-source of the page's origin.
fn blob_and_data(g: G) -> Vec<Group> {
    let bd: &[(&'static str, &'static str)] = &[
        ("blob:", "fetch"),
        ("blob:", "xhr"),
        ("data:text/plain,x", "fetch"),
        ("data:text/plain,x", "xhr"),
    ];
    vec![
        g(A, "'self'", bd),
        g(A, "blob:", bd),
        g(A, "data:", bd),
        g(A, "*", &[("blob:", "fetch"), ("blob:", "xhr")]),
        g(
            A,
            "http:",
            &[("blob:", "fetch"), ("data:text/plain,x", "fetch")],
        ),
        g(A, "http://a.localhost:{p1}", &[("blob:", "fetch")]),
        g(
            A,
            "'self' blob: data:",
            &[
                ("blob:", "eventsource"),
                ("data:text/plain,x", "eventsource"),
            ],
        ),
        g(
            AS,
            "'self'",
            &[("blob:", "fetch"), ("data:text/plain,x", "fetch")],
        ),
        g(AS, "blob:", &[("blob:", "fetch")]),
    ]
}

/// Host wildcards that carry a port, with and without a scheme, against every scheme and
/// default and explicit ports; a port-less ws source and a scheme-less one against 443.
fn wildcard_hosts_with_ports(g: G) -> Vec<Group> {
    const A443: &str = "https://a.localhost";
    vec![
        g(
            A,
            "http://*.localhost:{p2}",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("http://localhost:{p2}/hit", "fetch"),
                ("http://c.localhost:{p1}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "*.localhost:{p2}",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "ws://*.localhost:{p2}",
            &[
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "wss://*.localhost:{p2}",
            &[
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "https://*.localhost:{p2}",
            &[
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("wss://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "http://*.localhost:80",
            &[
                ("http://c.localhost/hit", "fetch"),
                ("https://c.localhost/hit", "fetch"),
                ("http://c.localhost:443/hit", "fetch"),
                ("ws://c.localhost/ws", "ws"),
                ("https://c.localhost:80/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://*.localhost:443",
            &[
                ("https://c.localhost/hit", "fetch"),
                ("http://c.localhost:443/hit", "fetch"),
                ("http://c.localhost/hit", "fetch"),
            ],
        ),
        g(
            A,
            "ws://*.localhost:80",
            &[
                ("ws://c.localhost/ws", "ws"),
                ("wss://c.localhost/ws", "ws"),
                ("ws://c.localhost:443/ws", "ws"),
            ],
        ),
        g(
            A,
            "*.localhost:80",
            &[
                ("http://c.localhost/hit", "fetch"),
                ("https://c.localhost/hit", "fetch"),
                ("http://c.localhost:443/hit", "fetch"),
                ("ws://c.localhost/ws", "ws"),
            ],
        ),
        g(
            A,
            "*.localhost:443",
            &[
                ("https://c.localhost/hit", "fetch"),
                ("http://c.localhost:443/hit", "fetch"),
                ("wss://c.localhost/ws", "ws"),
                ("ws://c.localhost:443/ws", "ws"),
            ],
        ),
        g(
            A,
            "http://*.localhost:*",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "*.localhost:*",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "ws://c.localhost",
            &[
                ("ws://c.localhost:443/ws", "ws"),
                ("wss://c.localhost/ws", "ws"),
                ("wss://c.localhost:80/ws", "ws"),
            ],
        ),
        g(
            A,
            "c.localhost:443",
            &[
                ("wss://c.localhost/ws", "ws"),
                ("ws://c.localhost:443/ws", "ws"),
                ("https://c.localhost/hit", "fetch"),
                ("http://c.localhost:443/hit", "fetch"),
            ],
        ),
        g(
            A443,
            "*.localhost:443",
            &[
                ("https://c.localhost/hit", "fetch"),
                ("wss://c.localhost/ws", "ws"),
            ],
        ),
        g(
            A443,
            "c.localhost:443",
            &[
                ("https://c.localhost/hit", "fetch"),
                ("wss://c.localhost/ws", "ws"),
            ],
        ),
        g(
            A443,
            "*.localhost",
            &[
                ("https://c.localhost/hit", "fetch"),
                ("wss://c.localhost/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            AS,
            "*.localhost:{p2}",
            &[
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("wss://c.localhost:{p2}/ws", "ws"),
            ],
        ),
    ]
}
